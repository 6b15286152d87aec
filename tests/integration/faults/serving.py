"""`astra serve` as a subprocess for fault tests: its settings, start-up, and a streaming turn
read until the stream ends or the connection breaks."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from httpx_sse import aconnect_sse

from bench.astra import astra_command
from bench.infra import Server, clean_environment, free_port, running_server
from tests.e2e.chat_flows import CHAT, INTERNAL_KEY

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
