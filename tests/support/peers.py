"""Subprocess peers (servers the tests start) and test databases that never outlive the run.

Three layers, because a run can end in ways that run no finalizer at all (SIGKILL, an OOM kill,
pytest-timeout's thread method, which ends the process with `os._exit`):

- `spawn` starts a peer in a process group of its own (so stopping it also stops what it
  started) and, on Linux, asks the kernel to SIGKILL it when the process that started it dies
  (`PR_SET_PDEATHSIG`); `stop` ends the whole group, SIGTERM first, SIGKILL if it lingers.
  Fixtures call `stop` in `finally`, which covers failing tests and signal-method timeouts.
- `start_guard` (called once per test process from `pytest_configure`) starts
  `peer_guard.py`, which outlives the test process and, when that process is gone, kills the
  process groups and drops the databases still registered here, plus every process whose
  environment carries this run's marker — which covers subprocesses started by code outside
  this package (bench helpers, `asyncio.create_subprocess_exec` in tests).
- Test databases carry their creation time in their name, so a run drops those that crashed
  runs left behind (`tests.services.drop_stale_databases`).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

# Not `ASTRA_…`: `bench.infra.clean_environment` drops those from the peers it starts.
MARKER_VARIABLE = "PYTEST_ASTRA_RUN"
GUARD_SCRIPT = Path(__file__).with_name("peer_guard.py")
STOP_GRACE_SECONDS = 10.0
GUARD_EXIT_SECONDS = 30.0
_PR_SET_PDEATHSIG = 1


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ------------------------------------------------------------------ the guard


class _Guard:
    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self.lock = threading.Lock()  # peers may be started from worker threads

    def send(self, message: Mapping[str, object]) -> None:
        stdin = self.process.stdin
        if stdin is None:
            return
        line = json.dumps(message).encode() + b"\n"
        with self.lock, contextlib.suppress(OSError, ValueError):  # a gone guard cleans nothing
            stdin.write(line)
            stdin.flush()


_guard: _Guard | None = None


def start_guard() -> None:
    """Start this test process's guard and mark the environment its subprocesses inherit."""
    global _guard
    if _guard is not None:
        return
    marker = f"{os.getpid()}-{secrets.token_hex(4)}"
    # The guard itself must not carry the marker (it would kill itself), nor a parent run's.
    environment = {k: v for k, v in os.environ.items() if k != MARKER_VARIABLE}
    process = subprocess.Popen(
        [sys.executable, str(GUARD_SCRIPT), marker],
        stdin=subprocess.PIPE,
        env=environment,
        # Its own session: Ctrl-C or a kill of the run's process group does not reach it.
        start_new_session=True,
    )
    _guard = _Guard(process)
    os.environ[MARKER_VARIABLE] = marker


def stop_guard() -> None:
    """End of the run: the guard sweeps what is left (normally nothing) and exits."""
    global _guard
    guard, _guard = _guard, None
    if guard is None:
        return
    if guard.process.stdin is not None:
        with contextlib.suppress(OSError):
            guard.process.stdin.close()
    try:
        guard.process.wait(timeout=GUARD_EXIT_SECONDS)
    except subprocess.TimeoutExpired:
        guard.process.kill()
        guard.process.wait()


def _tell_guard(**message: object) -> None:
    if _guard is not None:
        _guard.send(message)


def watch_database(admin_dsn: str, name: str) -> None:
    """Have the guard drop `name` if the run ends before `forget_database(name)`."""
    _tell_guard(database=name, admin_dsn=admin_dsn)


def forget_database(name: str) -> None:
    _tell_guard(forget_database=name)


# ------------------------------------------------------------------ peers


def _die_with_parent_preexec() -> Callable[[], None] | None:
    """A `preexec_fn` that makes the child get SIGKILL when its parent dies (Linux only).

    The kernel ties this to the thread that forked the child, so it is only used from the main
    thread: a child started from a worker thread would die when that thread ends. The libc
    function is looked up here, before the fork, so the child only makes the call.
    """
    if not sys.platform.startswith("linux") or threading.current_thread() is not (
        threading.main_thread()
    ):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))
        if os.getppid() != parent:  # the parent died before the call: nobody will stop us
            os._exit(1)

    return preexec


def spawn(
    argv: Sequence[str],
    *,
    stdout: IO[Any] | int | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start a peer in its own process group, registered with the guard until `stop`."""
    process = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.STDOUT if stdout is not None else None,
        env=None if env is None else dict(env),
        cwd=cwd,
        start_new_session=True,
        # Only a prctl call runs between fork and exec (see above), safe despite threads.
        preexec_fn=_die_with_parent_preexec(),
    )
    _tell_guard(group=process.pid)
    return process


def pid_alive(pid: int) -> bool:
    """True while `pid` runs; a zombie (dead, not yet reaped by its new parent) does not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        # Without /proc (not Linux) the kill above is all there is to know; with it, the
        # process ended meanwhile.
        return not Path("/proc").is_dir()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _signal_group(pgid: int, sig: signal.Signals) -> bool:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    return True


def stop(process: subprocess.Popen[bytes], grace: float = STOP_GRACE_SECONDS) -> None:
    """End the peer's whole process group: SIGTERM, then SIGKILL if it lingers."""
    try:
        if _signal_group(process.pid, signal.SIGTERM):
            _signal_group(process.pid, signal.SIGCONT)  # a SIGSTOPped peer acts on it only now
            try:
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait(timeout=grace)
            # Children that ignored SIGTERM while their leader exited are still in the group.
            _signal_group(process.pid, signal.SIGKILL)
        process.poll()  # reap it, if the group was already gone
    finally:
        _tell_guard(forget_group=process.pid)
