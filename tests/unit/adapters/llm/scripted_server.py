"""A tiny real HTTP/1.1 server on a loopback port that plays scripted answers, one per request.

It exercises the `openai` adapter's own rules (retries before the first byte, timeouts, closing)
over a real socket; what it answers is written by each test, so it is not a stand-in for a
model server's behaviour. Every response ends with `Connection: close`, so each request gets a
fresh connection and `closed` reports when the client hung up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Exchange:
    """One request as received, and a signal set when the client closed its connection."""

    headers: dict[str, str]
    body: dict[str, Any]
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def wait_closed_by_client(self) -> None:
        """Read until EOF: returns once the client closed the connection."""
        with contextlib.suppress(ConnectionError):
            while await self.reader.read(1024):
                pass
        self.closed.set()


Behaviour = Callable[[Exchange], Awaitable[None]]


def status(code: int, body: str = "", headers: dict[str, str] | None = None) -> Behaviour:
    async def answer(exchange: Exchange) -> None:
        payload = body.encode()
        head = f"HTTP/1.1 {code} X\r\nContent-Length: {len(payload)}\r\nConnection: close\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        await exchange.send(head.encode() + b"\r\n" + payload)

    return answer


SSE_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"


def chunk(content: str | None = None, finish: str | None = None, **extra: Any) -> str:
    delta = {} if content is None else {"content": content}
    return json.dumps(
        {"model": "scripted", "choices": [{"delta": delta, "finish_reason": finish}], **extra}
    )


def sse(
    payloads: list[str],
    *,
    before_headers: float = 0.0,
    before_first: float = 0.0,
    between: float = 0.0,
    then_hang: bool = False,
) -> Behaviour:
    """Stream `payloads` as `data:` events; `then_hang` keeps the connection open, silent."""

    async def answer(exchange: Exchange) -> None:
        await asyncio.sleep(before_headers)
        await exchange.send(SSE_HEAD)
        await asyncio.sleep(before_first)
        for index, payload in enumerate(payloads):
            if index:
                await asyncio.sleep(between)
            await exchange.send(f"data: {payload}\n\n".encode())
        if then_hang:
            await exchange.wait_closed_by_client()

    return answer


def endless(between: float) -> Behaviour:
    """Streams a chunk every `between` seconds until the client goes away."""

    async def answer(exchange: Exchange) -> None:
        await exchange.send(SSE_HEAD)
        watcher = asyncio.create_task(exchange.wait_closed_by_client())
        try:
            while not exchange.closed.is_set():
                await exchange.send(f"data: {chunk('tick ')}\n\n".encode())
                await asyncio.wait([watcher], timeout=between)
        except ConnectionError:
            exchange.closed.set()
        finally:
            watcher.cancel()

    return answer


async def silent(exchange: Exchange) -> None:
    """Accepts the request and never answers (until the client hangs up)."""
    await exchange.wait_closed_by_client()


class ScriptedServer:
    def __init__(self, script: list[Behaviour]) -> None:
        self.script = list(script)
        self.exchanges: list[Exchange] = []
        self.handlers: set[asyncio.Task[Any]] = set()
        self.peak_connections = 0
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        self.peak_connections = max(self.peak_connections, len(self.handlers))
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")[1:]
            headers = {
                k.strip().lower(): v.strip()
                for k, _, v in (line.partition(":") for line in lines if line)
            }
            raw = await reader.readexactly(int(headers.get("content-length", "0")))
            exchange = Exchange(headers, json.loads(raw) if raw else {}, reader, writer)
            self.exchanges.append(exchange)
            behaviour = self.script.pop(0) if len(self.script) > 1 else self.script[0]
            await behaviour(exchange)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.handlers.discard(task)
            writer.close()


@contextlib.asynccontextmanager
async def scripted_server(*script: Behaviour) -> AsyncIterator[ScriptedServer]:
    server = ScriptedServer(list(script))
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    server.port = listener.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listener.close()
        # Handlers still waiting on a client that never hung up end with the test.
        pending = list(server.handlers)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await listener.wait_closed()
