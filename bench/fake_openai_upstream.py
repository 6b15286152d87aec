"""A fast OpenAI-compatible chat server for benchmarks and disconnect tests.

    python -m bench.fake_openai_upstream --port P --tokens 32 --delay-ms 0

Speaks just enough HTTP/1.1 (keep-alive, Content-Length request bodies, chunked streaming
responses) straight on `asyncio.start_server`, so that it costs far less CPU per turn than the
service measured against it: it must never be the bottleneck of a benchmark.

- `POST /v1/chat/completions`: `stream: true` sends one `data: {chunk}` event per token
  (`--delay-ms` apart), a last chunk with `finish_reason`, a usage chunk when
  `stream_options.include_usage` is set (as OpenAI does), then `data: [DONE]`; without `stream`
  one `chat.completion` object. `max_tokens` below `--tokens` stops early with `length`.
- `GET /v1/models`: the one model (`--model`, default "fake"), also the readiness probe.
- `GET /_stats`: `{"started", "completed", "cancelled", "active"}` streams, where `cancelled`
  counts streams whose client closed the connection before `[DONE]` (what a disconnect test
  needs to prove that the upstream call was really cancelled).
- `PUT /_config` `{"tokens": n, "delay_ms": x}` (either optional): changes the replies from
  now on, so one running server (and the service pointed at it) serves several scenarios.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import msgspec

MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 16 * 1024 * 1024
# During a long pause between tokens, how often to look whether the client is still there.
GONE_CHECK_S = 0.05
_json = msgspec.json.Encoder()
_decode = msgspec.json.Decoder()
# Words the fake model "says"; token i of a reply is WORDS[i % len(WORDS)] with a leading space.
WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel")


@dataclass(frozen=True, slots=True)
class UpstreamOptions:
    tokens: int = 32
    delay_s: float = 0.0
    model: str = "fake"

    def as_json(self) -> dict[str, object]:
        return {"tokens": self.tokens, "delay_ms": self.delay_s * 1000, "model": self.model}


@dataclass(slots=True)
class StreamStats:
    started: int = 0
    completed: int = 0
    cancelled: int = 0

    def as_json(self) -> dict[str, int]:
        return {
            "started": self.started,
            "completed": self.completed,
            "cancelled": self.cancelled,
            "active": self.started - self.completed - self.cancelled,
        }


@dataclass(slots=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    keep_alive: bool


class ClientGoneError(Exception):
    """The client closed its side of the connection while we were still answering."""


@dataclass(slots=True)
class FakeUpstream:
    options: UpstreamOptions
    stats: StreamStats = field(default_factory=StreamStats)
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    async def serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    return
                await self._dispatch(request, reader, writer)
                if not request.keep_alive:
                    return
        except (ClientGoneError, ConnectionError, asyncio.IncompleteReadError):
            return
        except _BadRequestError as error:
            with contextlib.suppress(ConnectionError):
                _respond(writer, 400, {"error": {"message": str(error)}}, keep_alive=False)
                await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _dispatch(
        self, request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        keep = request.keep_alive
        if request.path == "/v1/chat/completions" and request.method == "POST":
            await self._completion(request, reader, writer)
            return
        if request.path == "/v1/models" and request.method == "GET":
            model = {"id": self.options.model, "object": "model", "owned_by": "bench"}
            _respond(writer, 200, {"object": "list", "data": [model]}, keep_alive=keep)
        elif request.path == "/_stats" and request.method == "GET":
            _respond(writer, 200, self.stats.as_json(), keep_alive=keep)
        elif request.path == "/_config" and request.method == "PUT":
            self._configure(request.body)
            _respond(writer, 200, self.options.as_json(), keep_alive=keep)
        else:
            _respond(writer, 404, {"error": {"message": "not found"}}, keep_alive=keep)
        await writer.drain()

    def _configure(self, body: bytes) -> None:
        try:
            changes = _decode.decode(body)
        except msgspec.DecodeError:
            raise _BadRequestError("body is not JSON") from None
        if not isinstance(changes, dict):
            raise _BadRequestError("body must be an object")
        tokens = changes.get("tokens", self.options.tokens)
        delay_ms = changes.get("delay_ms", self.options.delay_s * 1000)
        if not isinstance(tokens, int) or tokens < 1:
            raise _BadRequestError("tokens must be a positive integer")
        if not isinstance(delay_ms, int | float) or delay_ms < 0:
            raise _BadRequestError("delay_ms must be a number >= 0")
        self.options = replace(self.options, tokens=tokens, delay_s=delay_ms / 1000)

    async def _completion(
        self, request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            body = _decode.decode(request.body)
        except msgspec.DecodeError:
            _respond(writer, 400, {"error": {"message": "body is not JSON"}}, request.keep_alive)
            await writer.drain()
            return
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            _respond(writer, 400, {"error": {"message": "messages is required"}}, False)
            await writer.drain()
            return
        max_tokens = body.get("max_tokens")
        count = self.options.tokens
        finish = "stop"
        if isinstance(max_tokens, int) and 0 < max_tokens < count:
            count, finish = max_tokens, "length"
        reply = _Reply(
            id=f"chatcmpl-{next(self._ids)}",
            created=int(time.time()),
            model=str(body.get("model") or self.options.model),
            tokens=count,
            finish_reason=finish,
            prompt_tokens=_approx_prompt_tokens(body["messages"]),
        )
        if body.get("stream"):
            options = body.get("stream_options")
            usage = isinstance(options, dict) and bool(options.get("include_usage"))
            await self._stream(reply, usage, request.keep_alive, reader, writer)
        else:
            if self.options.delay_s:
                await asyncio.sleep(self.options.delay_s * count)
            _respond(writer, 200, reply.completion(), request.keep_alive)
            await writer.drain()

    async def _stream(
        self,
        reply: _Reply,
        include_usage: bool,
        keep_alive: bool,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.stats.started += 1
        head = (
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
            f"transfer-encoding: chunked\r\n{_connection(keep_alive)}\r\n"
        )
        writer.write(head.encode())
        delay = self.options.delay_s
        try:
            for index in range(reply.tokens):
                if delay:
                    await _pause(delay, reader, writer)
                    writer.write(_chunk(_event(reply.token_chunk(index))))
                    await writer.drain()
                else:
                    # Without a delay the whole reply goes out in a few TCP segments, like a
                    # real server that has the tokens ready faster than the network sends them.
                    writer.write(_chunk(_event(reply.token_chunk(index))))
            tail = _event(reply.finish_chunk())
            if include_usage:
                tail += _event(reply.usage_chunk())
            tail += b"data: [DONE]\n\n"
            _ensure_connected(reader, writer)
            writer.write(_chunk(tail) + b"0\r\n\r\n")
            await writer.drain()
        except (ClientGoneError, ConnectionError):
            self.stats.cancelled += 1
            raise ClientGoneError from None
        except asyncio.CancelledError:
            self.stats.cancelled += 1
            raise
        self.stats.completed += 1


@dataclass(frozen=True, slots=True)
class _Reply:
    id: str
    created: int
    model: str
    tokens: int
    finish_reason: str
    prompt_tokens: int

    def _base(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
        }

    def token_chunk(self, index: int) -> dict[str, Any]:
        delta: dict[str, str] = {"content": _token(index)}
        if index == 0:
            delta = {"role": "assistant", **delta}
        choice = {"index": 0, "delta": delta, "finish_reason": None}
        return {**self._base(), "choices": [choice]}

    def finish_chunk(self) -> dict[str, Any]:
        choice = {"index": 0, "delta": {}, "finish_reason": self.finish_reason}
        return {**self._base(), "choices": [choice]}

    def usage(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.tokens,
            "total_tokens": self.prompt_tokens + self.tokens,
        }

    def usage_chunk(self) -> dict[str, Any]:
        return {**self._base(), "choices": [], "usage": self.usage()}

    def completion(self) -> dict[str, Any]:
        text = reply_text(self.tokens)
        choice = {
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "finish_reason": self.finish_reason,
        }
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [choice],
            "usage": self.usage(),
        }


def _token(index: int) -> str:
    return " " + WORDS[index % len(WORDS)]


def reply_text(tokens: int) -> str:
    """The whole text of a reply of `tokens` tokens (tests compare against it)."""
    return "".join(_token(i) for i in range(tokens))


def _approx_prompt_tokens(messages: list[Any]) -> int:
    words = 0
    for message in messages:
        if isinstance(message, dict):
            words += len(str(message.get("content", "")).split()) + 4  # role framing
    return words


def _event(payload: dict[str, Any]) -> bytes:
    return b"data: " + _json.encode(payload) + b"\n\n"


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def _connection(keep_alive: bool) -> str:
    return "connection: keep-alive\r\n" if keep_alive else "connection: close\r\n"


def _ensure_connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    # A client that went away shows as EOF on our read side (FIN) or a closing transport (RST);
    # HTTP/1.1 clients send nothing while they wait for a response, so EOF means gone.
    if reader.at_eof() or writer.is_closing():
        raise ClientGoneError


async def _pause(
    seconds: float, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Sleep, but notice a client that leaves meanwhile within `GONE_CHECK_S`.

    A pause up to `GONE_CHECK_S` is one plain sleep: re-sleeping for the sub-millisecond rest
    a timer may leave would spin (event loop timers have millisecond granularity).
    """
    while seconds > GONE_CHECK_S:
        await asyncio.sleep(GONE_CHECK_S)
        _ensure_connected(reader, writer)
        seconds -= GONE_CHECK_S
    await asyncio.sleep(seconds)
    _ensure_connected(reader, writer)


def _respond(
    writer: asyncio.StreamWriter, status: int, payload: dict[str, Any], keep_alive: bool
) -> None:
    body = _json.encode(payload)
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}.get(status, "Error")
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n{_connection(keep_alive)}\r\n"
    )
    writer.write(head.encode() + body)


class _BadRequestError(Exception):
    pass


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    """The next request on a keep-alive connection; None when the client closed it cleanly."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as error:
        if error.partial.strip():
            raise _BadRequestError("incomplete request head") from None
        return None
    except asyncio.LimitOverrunError:
        raise _BadRequestError("request head too large") from None
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, target, version = lines[0].split(" ", 2)
    except ValueError:
        raise _BadRequestError("malformed request line") from None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        raise _BadRequestError("chunked request bodies are not supported")
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError:
        raise _BadRequestError("bad content-length") from None
    if not 0 <= length <= MAX_BODY_BYTES:
        raise _BadRequestError("body too large")
    body = await reader.readexactly(length) if length else b""
    connection = headers.get("connection", "").lower()
    keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
    return Request(method, target.split("?", 1)[0], headers, body, keep_alive)


async def serve(host: str, port: int, options: UpstreamOptions) -> None:
    upstream = FakeUpstream(options)
    server = await asyncio.start_server(
        upstream.serve_connection, host, port, limit=MAX_HEADER_BYTES, backlog=1024
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tokens", type=int, default=32, help="tokens per reply")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="pause before each token")
    parser.add_argument("--model", default="fake", help="the model id /v1/models lists")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    options = UpstreamOptions(tokens=args.tokens, delay_s=args.delay_ms / 1000, model=args.model)
    try:
        import uvloop
    except ImportError:  # uvloop comes with uvicorn[standard]; plain asyncio works too
        asyncio.run(serve(args.host, args.port, options))
    else:
        uvloop.run(serve(args.host, args.port, options))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
