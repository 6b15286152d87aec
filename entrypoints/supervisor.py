"""uvicorn's multi-worker supervisor, made to stop taking connections the moment it is told to.

Two things in the stock one leave new connections hanging during a shutdown: it notices a
signal only on its next half-second poll, and it keeps its own copy of the listening socket
open until it exits, so the kernel goes on queueing connections that no worker will accept.
"""

from __future__ import annotations

import signal
from types import FrameType

from uvicorn.supervisors import Multiprocess

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Supervisor(Multiprocess):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        for signum in _STOP_SIGNALS:
            signal.signal(signum, self._stop_now)

    def _stop_now(self, signum: int, _: FrameType | None) -> None:
        # Wakes the supervisor's loop at once: it then terminates the workers (below).
        self.signal_queue.append(signum)
        self.should_exit.set()

    def terminate_all(self) -> None:
        for sock in self.sockets:
            sock.close()
        super().terminate_all()
