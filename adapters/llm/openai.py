"""`LLMBackend` over any OpenAI-compatible `/chat/completions` server, streamed as SSE.

Rules (see `LLMBackend.stream`):
- Timeouts: `connect` (TCP/TLS and a pooled connection, by aiohttp), `first_byte` (from
  sending the request until the response headers *and* the first event), `idle` (longest
  silence between two events). The last two are one timer around the waits for events
  (`_SilenceLimit`), so a server that trickles keep-alive bytes cannot stretch a read
  timeout forever. Any of them → `Unavailable`.
- Retries happen only before the response is accepted: connect errors, 5xx and 429 (honouring
  `Retry-After` up to `MAX_RETRY_AFTER` seconds; longer waits are reported, not slept), with
  exponential backoff. Once the stream is accepted nothing is retried, so a reply is never sent
  twice. Timeouts are not retried either: a server too slow to answer once would only make the
  user wait several times as long.
- Usage: `stream_options.include_usage` is requested; when the server sends none (llama.cpp's
  server sends an empty one), completion tokens = the number of chunks that carried text (such
  servers emit one token per chunk) and prompt tokens come from `token_count`'s approximation.
- A prompt longer than the model's context → `InvalidArgument("message_content", …)`. Servers
  that accept a stream and then end it without a single event (llama-cpp-python reports a
  context overflow only in its log that way) are asked once more, without streaming and with
  `max_tokens=1`, to learn why.
- Closing the iterator (`aclose()` or cancelling the consuming task) leaves the `async with`
  blocks at once, which closes the HTTP response and its connection.
- Transport: aiohttp. Profiled under 32 concurrent streams, httpx/httpcore cost ~5 ms of CPU
  per turn (over a third of the worker's), and httpcore counted busy connections against
  its keep-alive limit, so most turns opened a new one; aiohttp's pool reuses an idle
  connection in O(1) and writes the request once.
- Messages never include the upstream body or the API key.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import msgspec
from httpx_sse import ServerSentEvent

from adapters.llm.sse import server_sent_events
from adapters.llm.token_count import count_prompt_tokens
from application.chat.ports import Completion, LLMBackend, LLMEvent, LLMRequest, TextDelta
from domain.errors import InvalidArgument, Unavailable

logger = logging.getLogger("astra.llm")

MAX_RETRY_AFTER = 10.0
BACKOFF_BASE = 0.25
ERROR_BODY_LIMIT = 16 * 1024
# While the consumer holds an item past the deadline, how often the timer looks again.
MIN_RECHECK = 0.05
CONTEXT_OVERFLOW = "the conversation is too long for the model's context"
_CONTEXT_HINTS = ("context", "too long", "exceed")


@dataclass(frozen=True, slots=True)
class LLMTimeouts:
    connect: float = 5.0
    first_byte: float = 60.0
    idle: float = 30.0


class _Delta(msgspec.Struct):
    content: str | None = None


class _Choice(msgspec.Struct):
    delta: _Delta = msgspec.field(default_factory=_Delta)
    finish_reason: str | None = None


class _Usage(msgspec.Struct):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class _ErrorBody(msgspec.Struct):
    message: str = ""
    code: str | int | None = None


class _Chunk(msgspec.Struct):
    choices: list[_Choice] | None = None
    usage: _Usage | None = None
    model: str = ""
    error: _ErrorBody | None = None


_decode_chunk = msgspec.json.Decoder(_Chunk).decode
# msgspec rather than stdlib json: the prompt is encoded on every turn.
_encode_body = msgspec.json.Encoder().encode


# After `[DONE]` a well-behaved server ends the body at once; one that lingers is not waited
# for longer than this (its connection is then closed instead of pooled).
DRAIN_SECONDS = 1.0


async def _drain(events: AsyncIterator[ServerSentEvent], silence: _SilenceLimit) -> None:
    """Read the (empty) rest of the body after `[DONE]` so the connection goes back to the
    pool: a new connection per turn costs more CPU than reuse."""
    with contextlib.suppress(StopAsyncIteration, TimeoutError, aiohttp.ClientError):
        while True:
            await silence.next(events, DRAIN_SECONDS)


class _SilenceLimit:
    """The first-byte and idle limits of one stream, on a single timer.

    `next(events, seconds)` waits for the next event at most `seconds` (None: until the
    first-byte deadline) and raises `TimeoutError` when none came. Only the wait counts, not the
    time the consumer holds an item. Setting the deadline is a float store per event: a new
    `asyncio.timeout` per event cost a timer object and a task lookup per token. The one timer
    fires at most once per limit; when the reader is waiting past its deadline it cancels the
    task, which is then suspended inside that wait (the only place the cancellation can land),
    and the wait turns it into `TimeoutError`, as `asyncio.timeout` would. One stream is read by
    one task (the one that built the limit), as `LLMBackend.stream` consumers do.
    """

    __slots__ = ("_deadline", "_expired", "_handle", "_loop", "_task", "_waiting")

    def __init__(self, first_deadline: float) -> None:
        self._loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("a model stream must be read inside a task")
        self._task = task
        self._deadline = first_deadline
        self._waiting = False
        self._expired = False
        self._handle = self._loop.call_at(first_deadline, self._check)

    async def next(
        self, events: AsyncIterator[ServerSentEvent], seconds: float | None
    ) -> ServerSentEvent:
        if seconds is not None:
            self._deadline = self._loop.time() + seconds
            if self._deadline < self._handle.when():
                # Earlier than the armed timer: at most once, after the first event (idle < what
                # is left of the first-byte window); later deadlines only grow.
                self._handle.cancel()
                self._handle = self._loop.call_at(self._deadline, self._check)
        self._waiting = True
        try:
            return await anext(events)
        except asyncio.CancelledError:
            if self._expired and self._task.uncancel() == 0:
                self._expired = False
                raise TimeoutError from None
            raise
        finally:
            self._waiting = False

    def close(self) -> None:
        self._handle.cancel()

    def _check(self) -> None:
        now = self._loop.time()
        if self._waiting and now >= self._deadline:
            self._expired = True
            self._task.cancel()
        else:
            self._handle = self._loop.call_at(max(self._deadline, now + MIN_RECHECK), self._check)


class _RetryableFailure(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


@dataclass(slots=True)
class _StreamState:
    content_chunks: int = 0
    events: int = 0
    finish_reason: str | None = None
    done: bool = False
    usage: _Usage | None = None
    model: str = ""


class OpenAICompatibleBackend(LLMBackend):
    """Streams chat completions from `{base_url}/chat/completions` over a shared client."""

    def __init__(
        self,
        client: aiohttp.ClientSession,
        base_url: str,
        api_key: str,
        default_model: str,
        timeouts: LLMTimeouts,
        max_retries: int,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._client = client
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._json_headers = {
            **self._headers,
            "Content-Type": "application/json",
            "Accept": "text/event-stream",
        }
        self._default_model = default_model
        self._timeouts = timeouts
        self._max_retries = max_retries
        self._sleep = sleep
        # Reads are left to the asyncio timers around each event (see the module docstring).
        self._http_timeout = aiohttp.ClientTimeout(
            total=None, connect=timeouts.connect, sock_connect=timeouts.connect, sock_read=None
        )

    async def stream(self, request: LLMRequest) -> AsyncIterator[LLMEvent]:
        body = self._body(request)
        state = _StreamState(model=str(body["model"]))
        idle = self._timeouts.idle
        async with contextlib.AsyncExitStack() as stack:
            # The first-byte window of the accepted attempt also covers its first event.
            response, first_byte_deadline = await self._open_with_retries(stack, body)
            events = await stack.enter_async_context(
                contextlib.aclosing(server_sent_events(response))
            )
            silence = _SilenceLimit(first_byte_deadline)
            try:
                while not state.done:
                    try:
                        event = await silence.next(events, None if state.events == 0 else idle)
                    except StopAsyncIteration:
                        break
                    except aiohttp.ClientError:
                        raise Unavailable("the model server connection broke mid-reply") from None
                    text = self._apply(event.data, state)
                    if text:
                        yield TextDelta(text)
                if state.done:
                    await _drain(events, silence)
            except TimeoutError:
                raise self._timed_out(first=state.events == 0) from None
            finally:
                silence.close()
        if state.events == 0:
            await self._explain_empty_stream(body)
        if not state.done and state.finish_reason is None:
            raise Unavailable("the model server ended the reply early")
        yield self._completion(request, state)

    # ------------------------------------------------------------------ request

    def _body(self, request: LLMRequest) -> dict[str, Any]:
        return {
            "model": request.model or self._default_model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
            "stream": True,
            "stream_options": {"include_usage": True},
        }

    async def _open_with_retries(
        self, stack: contextlib.AsyncExitStack, body: dict[str, Any]
    ) -> tuple[aiohttp.ClientResponse, float]:
        attempt = 0
        while True:
            try:
                return await stack.enter_async_context(self._opened(body))
            except _RetryableFailure as failure:
                wait = self._retry_delay(attempt, failure.retry_after)
                if attempt >= self._max_retries or wait is None:
                    retry_after = math.ceil(failure.retry_after) if failure.retry_after else None
                    raise Unavailable(failure.message, retry_after=retry_after) from None
                logger.info("retrying the model server in %.2fs: %s", wait, failure.message)
                await self._sleep(wait)
                attempt += 1

    def _retry_delay(self, attempt: int, retry_after: float | None) -> float | None:
        """Seconds to wait before the next attempt; None when the server asks for too long."""
        if retry_after is not None:
            return retry_after if retry_after <= MAX_RETRY_AFTER else None
        return float(BACKOFF_BASE * 2**attempt)

    @contextlib.asynccontextmanager
    async def _opened(
        self, body: dict[str, Any]
    ) -> AsyncIterator[tuple[aiohttp.ClientResponse, float]]:
        """One attempt: an accepted event stream and its first-byte deadline, or a classified
        failure (the response is closed before it is raised)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeouts.first_byte
        async with contextlib.AsyncExitStack() as stack:
            try:
                async with asyncio.timeout_at(deadline):
                    response = await stack.enter_async_context(
                        self._client.post(
                            self._url,
                            data=_encode_body(body),
                            headers=self._json_headers,
                            timeout=self._http_timeout,
                        )
                    )
            except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError):
                raise _RetryableFailure("the model server cannot be reached") from None
            except TimeoutError:
                raise self._timed_out(first=True) from None
            except aiohttp.ClientError:
                raise Unavailable("the model server connection failed") from None
            if response.status >= 400:
                await self._raise_for_status(response, deadline)
            content_type = response.headers.get("content-type", "")
            if "text/event-stream" not in content_type:
                raise Unavailable("the model server did not answer with an event stream")
            yield response, deadline

    async def _raise_for_status(self, response: aiohttp.ClientResponse, deadline: float) -> None:
        status = response.status
        if status == 429 or status >= 500:
            raise _RetryableFailure(
                f"the model server is unavailable (HTTP {status})",
                _retry_after_seconds(response.headers.get("retry-after")),
            )
        text = await _read_error_body(response, deadline)
        if status in (400, 413) and _mentions_context(text):
            raise InvalidArgument("message_content", CONTEXT_OVERFLOW)
        logger.warning("the model server rejected a request with HTTP %s", status)
        raise Unavailable(f"the model server rejected the request (HTTP {status})")

    # ------------------------------------------------------------------ events

    def _apply(self, data: str, state: _StreamState) -> str:
        """Fold one SSE `data` payload into `state`; the text it carries ("" if none)."""
        state.events += 1
        if data.strip() == "[DONE]":
            state.done = True
            return ""
        try:
            chunk = _decode_chunk(data)
        except msgspec.DecodeError:
            raise Unavailable("the model server sent an unreadable chunk") from None
        if chunk.error is not None:
            if state.content_chunks == 0 and _mentions_context(chunk.error.message):
                raise InvalidArgument("message_content", CONTEXT_OVERFLOW)
            raise Unavailable("the model server reported an error mid-reply")
        if chunk.model:
            state.model = chunk.model
        if chunk.usage is not None and (chunk.usage.prompt_tokens or chunk.usage.completion_tokens):
            state.usage = chunk.usage
        if not chunk.choices:
            return ""
        choice = chunk.choices[0]
        if choice.finish_reason:
            state.finish_reason = choice.finish_reason
        text = choice.delta.content or ""
        if text:
            state.content_chunks += 1
        return text

    def _completion(self, request: LLMRequest, state: _StreamState) -> Completion:
        if state.usage is not None:
            prompt_tokens = state.usage.prompt_tokens
            completion_tokens = state.usage.completion_tokens
        else:
            prompt_tokens = count_prompt_tokens(request.messages)
            completion_tokens = state.content_chunks
        finish = "length" if state.finish_reason == "length" else "stop"
        return Completion(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            finish_reason=finish,
            model=state.model,
        )

    async def _explain_empty_stream(self, body: dict[str, Any]) -> None:
        """Ask once, without streaming and for one token, why the stream was empty."""
        probe = {**body, "stream": False, "max_tokens": 1}
        probe.pop("stream_options", None)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeouts.first_byte
        # Two tries: the server may already have closed the pooled connection that carried the
        # empty stream, which shows as a connection error on the next request.
        for _ in range(2):
            try:
                async with (
                    asyncio.timeout_at(deadline),
                    self._client.post(
                        self._url, data=_encode_body(probe), headers=self._json_headers,
                        timeout=self._http_timeout,
                    ) as response,
                ):  # fmt: skip
                    if response.status in (400, 413):
                        text = await _read_error_body(response, deadline)
                        if _mentions_context(text):
                            raise InvalidArgument("message_content", CONTEXT_OVERFLOW)
                break
            except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError):
                continue
            except (TimeoutError, aiohttp.ClientError):
                break
        raise Unavailable("the model server ended the stream without a reply")

    def _timed_out(self, *, first: bool) -> Unavailable:
        if first:
            return Unavailable(
                f"the model server did not start answering within {self._timeouts.first_byte:g}s"
            )
        return Unavailable(f"the model server went silent for {self._timeouts.idle:g}s mid-reply")


def _mentions_context(text: str) -> bool:
    lowered = text.lower()
    return any(hint in lowered for hint in _CONTEXT_HINTS)


async def _read_error_body(response: aiohttp.ClientResponse, deadline: float) -> str:
    """At most `ERROR_BODY_LIMIT` bytes of an error body, for classification only."""
    collected = bytearray()
    try:
        async with asyncio.timeout_at(deadline):
            async for part in response.content.iter_any():
                collected += part
                if len(collected) >= ERROR_BODY_LIMIT:
                    break
    except (TimeoutError, aiohttp.ClientError):
        pass
    return collected[:ERROR_BODY_LIMIT].decode("utf-8", errors="replace")


def _retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` as seconds (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
