"""A lean HTTP/1.1 client for streaming load: one keep-alive socket per concurrent loop.

The load generator shares two cores with the server it measures, so it must cost as little as
possible per event: it writes pre-built request bytes and reads the chunked SSE body with
`asyncio` streams, decoding JSON only until it has found the first event that counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import msgspec

_decode = msgspec.json.Decoder()

# Does this `data:` payload count as "the first event" (time to first event stops there)?
FirstEvent = Callable[[object], bool]


class TurnError(RuntimeError):
    """A turn that did not end as a complete, successful stream."""


@dataclass(frozen=True, slots=True)
class TurnTiming:
    first_event_s: float
    total_s: float


def build_post(url: str, body: bytes, headers: dict[str, str]) -> bytes:
    parts = urlsplit(url)
    lines = [
        f"POST {parts.path or '/'} HTTP/1.1",
        f"host: {parts.netloc}",
        "content-type: application/json",
        "accept: text/event-stream",
        f"content-length: {len(body)}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class StreamConnection:
    """One keep-alive connection; reconnects when the server closes it."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 80
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError):
                await self._writer.wait_closed()
        self._reader = self._writer = None

    async def turn(self, request: bytes, is_first: FirstEvent, end_marker: bytes) -> TurnTiming:
        """Send one request and read its whole SSE answer.

        Raises TurnError for a non-200 answer or a body without `end_marker`.
        """
        if self._writer is None or self._writer.is_closing():
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        reader, writer = self._reader, self._writer
        assert reader is not None
        started = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        status, headers = _parse_head(head)
        first_at = 0.0
        body = bytearray()
        pending = b""  # bytes of an event not yet terminated by a blank line
        async for data in _body_pieces(reader, headers):
            body += data
            if first_at or status != 200:
                continue
            pending += data
            events = pending.split(b"\n\n")
            pending = events.pop()
            for event in events:
                if _counts(event, is_first):
                    first_at = time.perf_counter()
                    break
        finished = time.perf_counter()
        if headers.get("connection", "") == "close":
            await self.close()
        if status != 200:
            raise TurnError(f"status {status}: {bytes(body[:200]).decode(errors='replace')}")
        if end_marker not in body or not first_at:
            raise TurnError(f"incomplete stream: {bytes(body[-200:]).decode(errors='replace')}")
        return TurnTiming(first_at - started, finished - started)


def _counts(event: bytes, is_first: FirstEvent) -> bool:
    for line in event.split(b"\n"):
        if line.startswith(b"data:"):
            payload = line[5:].strip()
            if payload == b"[DONE]":
                return False
            try:
                return is_first(_decode.decode(payload))
            except msgspec.DecodeError:
                return False
    return False


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip().lower()
    return status, headers


async def _body_pieces(
    reader: asyncio.StreamReader, headers: dict[str, str]
) -> AsyncIterator[bytes]:
    """The body as it arrives: chunked transfer coding or a Content-Length body."""
    if "chunked" in headers.get("transfer-encoding", ""):
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")  # no trailers are sent; the final CRLF
                return
            chunk = await reader.readexactly(size + 2)
            yield chunk[:-2]
    else:
        remaining = int(headers.get("content-length", "0"))
        while remaining > 0:
            piece = await reader.read(min(remaining, 65536))
            if not piece:
                raise TurnError("connection closed mid-body")
            remaining -= len(piece)
            yield piece
