"""Throwaway PostgreSQL databases, Redis key prefixes and server subprocesses for benchmarks."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

POSTGRES_SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432"
REDIS_URL = "redis://127.0.0.1:6379/0"
STARTUP_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _admin(statement: str) -> None:
    # CREATE/DROP DATABASE cannot run inside a transaction, hence AUTOCOMMIT.
    engine = create_async_engine(f"{POSTGRES_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


@asynccontextmanager
async def throwaway_database() -> AsyncIterator[str]:
    """An empty database `astra_bench_<random>`, dropped (with its connections) afterwards."""
    name = f"astra_bench_{secrets.token_hex(6)}"
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES_SERVER}/{name}"
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@asynccontextmanager
async def redis_prefix() -> AsyncIterator[str]:
    """A unique key prefix; every key under it is deleted afterwards."""
    prefix = f"astra_bench_{secrets.token_hex(6)}:"
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
        yield prefix
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=500)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@dataclass(frozen=True, slots=True)
class Server:
    name: str
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 20) -> str:
        try:
            content = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(content.splitlines()[-lines:])


def clean_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """The caller's environment without its own Astra/OpenTelemetry settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASTRA_", "OTEL_"))}
    env.update(extra)
    return env


@asynccontextmanager
async def running_server(
    name: str,
    argv: Sequence[str],
    port: int,
    env: Mapping[str, str],
    log_dir: Path,
    ready_path: str,
) -> AsyncIterator[Server]:
    """Start `argv` in its own process group, wait until `ready_path` answers 200, stop it after."""
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: ASYNC220 - a long-lived child, waited for below
            list(argv),
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(name, f"http://127.0.0.1:{port}", process, log_path)
    try:
        await _wait_ready(server, ready_path)
        yield server
    finally:
        await _stop(process)


async def _wait_ready(server: Server, ready_path: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    async with httpx.AsyncClient(base_url=server.base_url, timeout=2.0) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(
                    f"{server.name} exited with {server.process.returncode} during start-up:\n"
                    f"{server.log_tail()}"
                )
            try:
                if (await client.get(ready_path)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(
        f"{server.name} not ready within {STARTUP_TIMEOUT_S:.0f} s:\n{server.log_tail()}"
    )


async def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group we created, then SIGKILL it if it lingers."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if process.poll() is not None:
            return
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            await asyncio.to_thread(process.wait, STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            continue
        return


def proc_status_mb(pid: int, field: str) -> float:
    """A memory field of /proc/<pid>/status (e.g. VmRSS, VmHWM) in MB (10^6 bytes)."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024 / 1e6  # the kernel writes kB meaning KiB
    raise RuntimeError(f"no {field} for pid {pid}")
