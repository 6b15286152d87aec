"""The drain: SIGTERM marks the process draining at once, chains the server's own handler,
and ends running work only when the grace period is over."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from litestar.testing import AsyncTestClient

from domain.errors import ErrorCode
from entrypoints.app import create_app
from entrypoints.settings import Settings
from entrypoints.shutdown import Drain, drain_on_signals


async def wait_for(condition: Callable[[], object], within: float = 30.0) -> None:
    async with asyncio.timeout(within):
        # Polled: the conditions are plain attributes that signal handlers and timers set.
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def test_sigterm_drains_at_once_and_still_reaches_the_servers_handler() -> None:
    ended: list[float] = []
    loop = asyncio.get_running_loop()

    def end_in_flight() -> int:
        ended.append(loop.time())
        return 3

    drain = Drain(0.2, end_in_flight)
    seen: list[int] = []

    def servers_handler(signum: int, _: FrameType | None) -> None:
        seen.append(signum)

    previous = signal.signal(signal.SIGTERM, servers_handler)
    try:
        with drain_on_signals(drain, loop):
            started = loop.time()
            os.kill(os.getpid(), signal.SIGTERM)
            await wait_for(lambda: drain.draining)
            assert seen == [signal.SIGTERM]
            assert not ended  # in-flight work has its grace period first
            await wait_for(lambda: ended)
            assert ended[0] - started >= 0.2
        # Leaving restores the server's handler.
        assert signal.getsignal(signal.SIGTERM) == servers_handler
    finally:
        signal.signal(signal.SIGTERM, previous)


async def test_a_second_signal_does_not_restart_the_grace_period() -> None:
    calls: list[int] = []

    def end_in_flight() -> int:
        calls.append(1)
        return 0

    drain = Drain(0.1, end_in_flight)
    drain.begin()
    drain.begin()
    await wait_for(lambda: calls)
    await asyncio.sleep(0.2)
    assert calls == [1]


async def test_a_draining_process_is_not_ready(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'astra.db'}",
        jwt_secret="shutdown-tests-jwt-secret-that-is-long-enough",
        data_dir=tmp_path / "data",
    )
    app = create_app(settings)
    async with AsyncTestClient(app=app) as client:
        assert (await client.get("/readyz")).status_code == 200
        app.state.container.drain.begin()
        response = await client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["code"] == int(ErrorCode.UNAVAILABLE)
        assert response.headers["retry-after"] == "1"
        assert (await client.get("/healthz")).status_code == 200  # alive, just leaving
