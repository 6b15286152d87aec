"""`astra serve` as a subprocess for fault tests: its settings, start-up, and a streaming turn
read until the stream ends or the connection breaks."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import subprocess
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from httpx_sse import aconnect_sse

from bench.astra import astra_command
from bench.infra import Server, clean_environment, free_port, running_server
from tests.e2e.chat_flows import CHAT, INTERNAL_KEY
from tests.integration.faults.ledger_audit import LedgerAudit, audit_ledger

MAX_TURN_SECONDS = 4
MARGIN_SECONDS = 10


def serve_env(tmp: Path, database_url: str, upstream: Server, smtp_port: int) -> dict[str, str]:
    return clean_environment(
        {
            "ASTRA_DATABASE_URL": database_url,
            "ASTRA_JWT_SECRET": secrets.token_urlsafe(48),
            "ASTRA_DATA_DIR": str(tmp / "data"),
            "ASTRA_INTERNAL_API_KEYS": INTERNAL_KEY,
            "ASTRA_SMTP_HOST": "127.0.0.1",
            "ASTRA_SMTP_PORT": str(smtp_port),
            "ASTRA_SMTP_STARTTLS": "false",
            "ASTRA_LLM_BACKEND": "openai",
            "ASTRA_LLM_BASE_URL": f"{upstream.base_url}/v1",
            "ASTRA_LLM_MODEL": "fake",
            "ASTRA_CHAT_MAX_TURN_SECONDS": str(MAX_TURN_SECONDS),
            "ASTRA_CHAT_TURN_MARGIN_SECONDS": str(MARGIN_SECONDS),
            "ASTRA_RECOVERY_INTERVAL_SECONDS": "0.5",
            "ASTRA_ARGON2_TIME_COST": "1",
            "ASTRA_ARGON2_MEMORY_KIB": "8192",
        }
    )


@asynccontextmanager
async def astra_serve(
    tmp: Path, env: Mapping[str, str], name: str, *, workers: int = 1
) -> AsyncIterator[Server]:
    port = free_port()
    argv = [*astra_command(), "serve", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--workers", str(workers)]
    env = {**env, "ASTRA_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    async with running_server(name, argv, port, env, tmp, "/healthz") as server:
        yield server


async def open_stream(
    http: httpx.AsyncClient, key: dict[str, str], body: dict[str, Any], first_chunk: asyncio.Event
) -> list[str]:
    """Read a streaming turn until the connection breaks; returns the events seen."""
    events: list[str] = []
    with contextlib.suppress(httpx.TransportError):
        async with aconnect_sse(http, "POST", CHAT, json=body, headers=key) as source:
            assert source.response.status_code == 200, await source.response.aread()
            async for event in source.aiter_sse():
                events.append(event.data)
                first_chunk.set()
    return events


# What a client may see while a dependency fails: answers, refusals and "retry later".
ALLOWED_STATUSES = {200, 402, 429, 503}
# Every hold is overdue this long after its turn started; recovery then needs a round or two.
RECOVERED_WITHIN = MAX_TURN_SECONDS + MARGIN_SECONDS + 30


@asynccontextmanager
async def astra_worker(tmp: Path, env: Mapping[str, str]) -> AsyncIterator[subprocess.Popen[bytes]]:
    """`astra worker` (email relay, chat recovery) in its own process group; stopped after."""
    with (tmp / "astra-worker.log").open("wb") as log:
        process = subprocess.Popen(  # noqa: ASYNC220 - a long-lived child, stopped below
            [*astra_command(), "worker"],
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        await stop_process_group(process)


@dataclass
class Traffic:
    """What chat clients saw: HTTP statuses, and the codes of streams' `error` events."""

    statuses: list[int] = field(default_factory=list)
    stream_errors: list[int] = field(default_factory=list)
    transport_errors: list[str] = field(default_factory=list)

    def answered_since(self, mark: int) -> int:
        return self.seen_since(mark, 200)

    def seen_since(self, mark: int, status: int) -> int:
        return sum(seen == status for seen in self.statuses[mark:])

    async def wait_for(self, status: int, count: int, mark: int, within: float = 60.0) -> None:
        """Until `count` answers with `status` arrived after the first `mark` ones."""
        async with asyncio.timeout(within):
            # Polled: the loops append to plain lists.
            while self.seen_since(mark, status) < count:  # noqa: ASYNC110
                await asyncio.sleep(0.05)

    def assert_only_allowed(self) -> None:
        assert not self.transport_errors, self.transport_errors[:5]
        assert set(self.statuses) <= ALLOWED_STATUSES, sorted(set(self.statuses))
        assert set(self.stream_errors) <= {402, 429, 503}, sorted(set(self.stream_errors))


async def chat_loop(
    http: httpx.AsyncClient,
    key: dict[str, str],
    body: Callable[[str], dict[str, Any]],
    traffic: Traffic,
    stop: asyncio.Event,
) -> None:
    """Chat turns one after another, alternating blocking and streaming, until `stop`."""
    streaming = False
    while not stop.is_set():
        streaming = not streaming
        try:
            if streaming:
                async with aconnect_sse(
                    http, "POST", CHAT, json=body("streaming"), headers=key
                ) as source:
                    traffic.statuses.append(source.response.status_code)
                    if source.response.status_code == 200:
                        async for event in source.aiter_sse():
                            data = json.loads(event.data) if event.data else {}
                            if data.get("event") == "error":
                                traffic.stream_errors.append(int(data["status"]))
                    else:
                        await source.response.aread()
            else:
                response = await http.post(CHAT, json=body("blocking"), headers=key)
                traffic.statuses.append(response.status_code)
        except httpx.TransportError as error:
            traffic.transport_errors.append(f"{type(error).__name__}: {error}")
        if traffic.statuses and traffic.statuses[-1] != 200:
            await asyncio.sleep(0.05)  # a refusal is instant: do not spin on it


async def open_streams(
    http: httpx.AsyncClient, tenant: Any, count: int
) -> list[asyncio.Task[list[str]]]:
    """`count` streaming turns, returned once each has sent its first event."""
    started = [asyncio.Event() for _ in range(count)]
    streams = [
        asyncio.create_task(open_stream(http, tenant.key, tenant.turn("hi", "streaming"), seen))
        for seen in started
    ]
    async with asyncio.timeout(30):
        await asyncio.gather(*(seen.wait() for seen in started))
    return streams


async def wait_until_recovered(database_url: str, tenant_id: str) -> LedgerAudit:
    """Until no credit is held and no reply is pending (within one recovery deadline)."""
    async with asyncio.timeout(RECOVERED_WITHIN):
        while True:
            audit = await audit_ledger(database_url, tenant_id)
            if audit.reserved_holds == 0 and audit.pending_replies == 0:
                return audit
            await asyncio.sleep(0.25)


async def stop_process_group(process: subprocess.Popen[bytes]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            await asyncio.to_thread(process.wait, 15)
            return
        except subprocess.TimeoutExpired:
            continue
