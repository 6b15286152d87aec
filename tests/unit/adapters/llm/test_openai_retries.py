"""The `openai` adapter's own rules over a real socket: retries only before the first byte,
first-byte and idle timeouts, closing the upstream stream, usage fallback, error mapping."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aiohttp
import pytest

from adapters.llm.openai import LLMTimeouts, OpenAICompatibleBackend
from adapters.llm.token_count import count_prompt_tokens
from application.chat.ports import Completion, LLMEvent, LLMRequest, PromptMessage, TextDelta
from bench.fake_openai_upstream import FakeUpstream, UpstreamOptions
from domain.errors import InvalidArgument, Unavailable
from entrypoints.llm_wiring import new_llm_http_client
from entrypoints.settings import LlmSettings
from tests.unit.adapters.llm.scripted_server import (
    Exchange,
    ScriptedServer,
    chunk,
    endless,
    scripted_server,
    silent,
    sse,
    status,
)

API_KEY = "sk-test-secret-key-0123456789"
DONE = "[DONE]"
HELLO = [chunk(None), chunk("Hel"), chunk("lo"), chunk(None, finish="stop"), DONE]
FAST = LLMTimeouts(connect=1.0, first_byte=0.5, idle=0.3)
# Well below the wired first-byte timeout (60 s), well above what starting 40 streams takes.
ALL_CONNECTED_WITHIN_SECONDS = 20.0


class RecordingSleep:
    """Records the waits the adapter asks for instead of sleeping them."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with new_llm_http_client(LlmSettings()) as http:
        yield http


def backend_for(
    client: aiohttp.ClientSession,
    server: ScriptedServer | str,
    sleep: RecordingSleep | None = None,
    timeouts: LLMTimeouts = FAST,
    max_retries: int = 2,
) -> OpenAICompatibleBackend:
    base_url = server if isinstance(server, str) else server.base_url
    return OpenAICompatibleBackend(
        client, base_url, API_KEY, "default-model", timeouts, max_retries, sleep or RecordingSleep()
    )


def request(model: str = "", max_tokens: int = 16) -> LLMRequest:
    messages = [PromptMessage("system", "Be brief."), PromptMessage("user", "Say hello")]
    return LLMRequest(messages, model=model, temperature=0.0, max_tokens=max_tokens)


async def run(backend: OpenAICompatibleBackend, req: LLMRequest | None = None) -> list[LLMEvent]:
    return [event async for event in backend.stream(req or request())]


async def drain(stream: AsyncIterator[LLMEvent], seen: list[LLMEvent]) -> None:
    """Consume `stream` into `seen`, so events before a failure stay visible."""
    async for event in stream:
        seen.append(event)


async def test_streams_deltas_then_one_completion(client: aiohttp.ClientSession) -> None:
    async with scripted_server(sse(HELLO)) as server:
        events = await run(backend_for(client, server))
    assert events[:-1] == [TextDelta("Hel"), TextDelta("lo")]
    assert isinstance(events[-1], Completion)
    assert events[-1].finish_reason == "stop"
    assert events[-1].model == "scripted"


async def test_sends_a_streaming_request_asking_for_usage(client: aiohttp.ClientSession) -> None:
    async with scripted_server(sse(HELLO)) as server:
        await run(backend_for(client, server))
        await run(backend_for(client, server), request(model="agent-model"))
    first, second = (e.body for e in server.exchanges)
    assert first["stream"] is True
    assert first["stream_options"] == {"include_usage": True}
    assert first["model"] == "default-model"
    assert second["model"] == "agent-model"
    assert first["max_tokens"] == 16
    assert first["temperature"] == 0.0
    assert first["messages"][1] == {"role": "user", "content": "Say hello"}
    assert server.exchanges[0].headers["authorization"] == f"Bearer {API_KEY}"


async def test_usage_from_the_server_wins(client: aiohttp.ClientSession) -> None:
    usage = chunk(None, usage={"prompt_tokens": 21, "completion_tokens": 2})
    usage_chunk = usage.replace(
        '"choices": [{"delta": {}, "finish_reason": null}]', '"choices": []'
    )
    async with scripted_server(sse([*HELLO[:-1], usage_chunk, DONE])) as server:
        completion = (await run(backend_for(client, server)))[-1]
    assert completion == Completion(21, 2, "stop", "scripted")


async def test_without_usage_counts_text_chunks_and_approximates_the_prompt(
    client: aiohttp.ClientSession,
) -> None:
    empty_usage = chunk(None, usage={})
    async with scripted_server(sse([*HELLO[:-1], empty_usage, DONE])) as server:
        completion = (await run(backend_for(client, server)))[-1]
    assert isinstance(completion, Completion)
    assert completion.completion_tokens == 2  # "Hel", "lo"; role-only and final chunks carry none
    assert completion.prompt_tokens == count_prompt_tokens(request().messages)


async def test_finish_reason_length_is_reported(client: aiohttp.ClientSession) -> None:
    async with scripted_server(sse([chunk("a"), chunk(None, finish="length"), DONE])) as server:
        completion = (await run(backend_for(client, server)))[-1]
    assert isinstance(completion, Completion)
    assert completion.finish_reason == "length"


async def test_retries_5xx_before_the_first_byte_with_backoff(
    client: aiohttp.ClientSession,
) -> None:
    sleep = RecordingSleep()
    async with scripted_server(status(503), status(502), sse(HELLO)) as server:
        events = await run(backend_for(client, server, sleep))
    assert len(server.exchanges) == 3
    assert sleep.waits == [0.25, 0.5]
    assert events[0] == TextDelta("Hel")


async def test_429_waits_as_long_as_retry_after_says(client: aiohttp.ClientSession) -> None:
    sleep = RecordingSleep()
    async with scripted_server(status(429, headers={"Retry-After": "3"}), sse(HELLO)) as server:
        await run(backend_for(client, server, sleep))
    assert sleep.waits == [3.0]
    assert len(server.exchanges) == 2


async def test_429_asking_for_too_long_is_reported_not_slept(client: aiohttp.ClientSession) -> None:
    sleep = RecordingSleep()
    async with scripted_server(status(429, headers={"Retry-After": "120"})) as server:
        with pytest.raises(Unavailable) as raised:
            await run(backend_for(client, server, sleep))
    assert raised.value.retry_after == 120
    assert sleep.waits == []
    assert len(server.exchanges) == 1


async def test_gives_up_after_max_retries_without_leaking_body_or_key(
    client: aiohttp.ClientSession,
) -> None:
    body = '{"error": "upstream-internal-detail"}'
    async with scripted_server(status(500, body)) as server:
        with pytest.raises(Unavailable) as raised:
            await run(backend_for(client, server, max_retries=2))
    assert len(server.exchanges) == 3
    assert "HTTP 500" in raised.value.message
    assert "upstream-internal-detail" not in raised.value.message
    assert API_KEY not in raised.value.message


async def test_connection_refused_is_retried_then_unavailable(
    client: aiohttp.ClientSession,
) -> None:
    async with scripted_server(status(200)) as server:
        closed_url = server.base_url  # the port is free again once the server stops
    sleep = RecordingSleep()
    with pytest.raises(Unavailable, match="cannot be reached"):
        await run(backend_for(client, closed_url, sleep, max_retries=2))
    assert len(sleep.waits) == 2


async def test_nothing_is_retried_once_text_was_sent(client: aiohttp.ClientSession) -> None:
    # Two chunks, then the server drops the connection without finishing the reply.
    async with scripted_server(sse([chunk("one "), chunk("two ")]), sse(HELLO)) as server:
        seen: list[LLMEvent] = []
        with pytest.raises(Unavailable, match="ended the reply early"):
            await drain(backend_for(client, server).stream(request()), seen)
    assert seen == [TextDelta("one "), TextDelta("two ")]
    assert len(server.exchanges) == 1


async def test_no_headers_within_first_byte_timeout_is_unavailable_and_not_retried(
    client: aiohttp.ClientSession,
) -> None:
    loop = asyncio.get_running_loop()
    async with scripted_server(silent) as server:
        started = loop.time()
        with pytest.raises(Unavailable, match=r"did not start answering within 0\.5s"):
            await run(backend_for(client, server))
        elapsed = loop.time() - started
    assert 0.4 <= elapsed < 2.0
    assert len(server.exchanges) == 1


async def test_first_byte_timeout_also_covers_the_first_event(
    client: aiohttp.ClientSession,
) -> None:
    async with scripted_server(sse(HELLO, before_first=5.0)) as server:
        with pytest.raises(Unavailable, match="did not start answering"):
            await run(backend_for(client, server))


async def test_headers_and_first_event_share_one_first_byte_window(
    client: aiohttp.ClientSession,
) -> None:
    # 0.3 s to the headers plus 0.3 s to the first event: each alone fits 0.5 s, together not.
    async with scripted_server(sse(HELLO, before_headers=0.3, before_first=0.3)) as server:
        with pytest.raises(Unavailable, match="did not start answering"):
            await run(backend_for(client, server))


async def test_silence_between_events_longer_than_idle_is_unavailable(
    client: aiohttp.ClientSession,
) -> None:
    async with scripted_server(sse([chunk("one ")], then_hang=True)) as server:
        seen: list[LLMEvent] = []
        with pytest.raises(Unavailable, match=r"went silent for 0\.3s"):
            await drain(backend_for(client, server).stream(request()), seen)
        await asyncio.wait_for(server.exchanges[0].closed.wait(), 2.0)
    assert seen == [TextDelta("one ")]


async def test_a_slow_but_steady_stream_outlasts_both_timeouts(
    client: aiohttp.ClientSession,
) -> None:
    # 8 gaps of 0.15 s: 1.2 s in all, more than first_byte (0.5) but every gap below idle (0.3).
    payloads = [chunk(f"{i} ") for i in range(8)] + [chunk(None, finish="stop"), DONE]
    async with scripted_server(sse(payloads, between=0.15)) as server:
        events = await run(backend_for(client, server))
    assert len(events) == 9


async def test_a_consumer_holding_a_delta_longer_than_idle_is_not_a_silent_server(
    client: aiohttp.ClientSession,
) -> None:
    # The server sends everything at once; only the consumer is slow (0.4 s > idle 0.3 s).
    payloads = [chunk("one "), chunk("two "), chunk(None, finish="stop"), DONE]
    async with scripted_server(sse(payloads)) as server:
        seen: list[LLMEvent] = []
        async for event in backend_for(client, server).stream(request()):
            seen.append(event)
            await asyncio.sleep(0.4)
    assert seen[:2] == [TextDelta("one "), TextDelta("two ")]
    assert isinstance(seen[2], Completion)


async def test_cancelling_the_consumer_closes_the_upstream_connection(
    client: aiohttp.ClientSession,
) -> None:
    seen: list[LLMEvent] = []
    two_seen = asyncio.Event()

    async def consume(backend: OpenAICompatibleBackend) -> None:
        async for event in backend.stream(request()):
            seen.append(event)
            if len(seen) == 2:
                two_seen.set()

    async with scripted_server(endless(between=0.05)) as server:
        task = asyncio.create_task(consume(backend_for(client, server)))
        await asyncio.wait_for(two_seen.wait(), 2.0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.wait_for(server.exchanges[0].closed.wait(), 1.0)


async def test_aclose_closes_the_upstream_connection(client: aiohttp.ClientSession) -> None:
    async with scripted_server(endless(between=0.05)) as server:
        stream = backend_for(client, server).stream(request())
        assert await anext(stream) == TextDelta("tick ")
        assert await anext(stream) == TextDelta("tick ")
        await stream.aclose()  # type: ignore[attr-defined]
        await asyncio.wait_for(server.exchanges[0].closed.wait(), 1.0)


async def test_context_overflow_400_is_invalid_argument(client: aiohttp.ClientSession) -> None:
    body = '{"error": {"message": "This model\'s maximum context length is 512 tokens"}}'
    async with scripted_server(status(400, body)) as server:
        with pytest.raises(InvalidArgument) as raised:
            await run(backend_for(client, server))
    assert raised.value.field == "message_content"
    assert len(server.exchanges) == 1


@pytest.mark.parametrize("code", [400, 401, 404, 422])
async def test_other_4xx_are_unavailable_and_not_retried(
    client: aiohttp.ClientSession, code: int
) -> None:
    async with scripted_server(status(code, '{"error": "bad key sk-upstream-echo"}')) as server:
        with pytest.raises(Unavailable) as raised:
            await run(backend_for(client, server))
    assert f"HTTP {code}" in raised.value.message
    assert "sk-upstream-echo" not in raised.value.message
    assert len(server.exchanges) == 1


async def test_an_empty_stream_is_explained_by_a_non_streaming_probe(
    client: aiohttp.ClientSession,
) -> None:
    overflow = '{"error": {"message": "Requested tokens (3525) exceed context window of 512"}}'
    async with scripted_server(sse([]), status(400, overflow)) as server:
        with pytest.raises(InvalidArgument):
            await run(backend_for(client, server))
    probe = server.exchanges[1].body
    assert probe["stream"] is False
    assert probe["max_tokens"] == 1
    assert "stream_options" not in probe


async def test_an_empty_stream_with_a_healthy_probe_is_unavailable(
    client: aiohttp.ClientSession,
) -> None:
    async with scripted_server(sse([]), status(200, '{"choices": []}')) as server:
        with pytest.raises(Unavailable, match="without a reply"):
            await run(backend_for(client, server))


async def test_an_error_event_mid_stream_is_unavailable(client: aiohttp.ClientSession) -> None:
    error = '{"error": {"message": "worker crashed"}}'
    async with scripted_server(sse([chunk("a"), error])) as server:
        with pytest.raises(Unavailable, match="reported an error"):
            await run(backend_for(client, server))


async def test_a_non_sse_answer_is_unavailable(client: aiohttp.ClientSession) -> None:
    async with scripted_server(status(200, '{"choices": []}')) as server:
        with pytest.raises(Unavailable, match="event stream"):
            await run(backend_for(client, server))


async def test_forty_concurrent_streams_share_the_wired_client() -> None:
    streams = 40
    settings = LlmSettings()
    everyone_connected = asyncio.Event()
    stream = sse([chunk(f"{i} ") for i in range(5)] + [chunk(None, finish="stop"), DONE])

    async def once_all_are_connected(exchange: Exchange) -> None:
        # Held until all are there, so "all at once" does not depend on how fast the machine
        # starts them. A client that queued some on its pool never gets here: after the
        # deadline the held ones answer and `peak_connections` shows the queueing.
        if len(server.exchanges) == streams:
            everyone_connected.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(everyone_connected.wait(), ALL_CONNECTED_WITHIN_SECONDS)
        await stream(exchange)

    async with (
        new_llm_http_client(settings) as shared,
        scripted_server(once_all_are_connected) as server,
    ):
        # The wired timeouts (tens of seconds), not FAST: the server is held on purpose here,
        # and what is tested is the pool, not how quickly two busy cores answer.
        wired = LLMTimeouts(
            settings.connect_timeout, settings.first_byte_timeout, settings.idle_timeout
        )
        llm = backend_for(shared, server, timeouts=wired)
        results = await asyncio.gather(*(run(llm) for _ in range(streams)))
    assert all(len(events) == 6 for events in results)
    assert server.peak_connections == streams  # all streamed at once, none queued on the pool


async def test_consecutive_and_overlapping_turns_reuse_pooled_connections() -> None:
    """A reply read to its end gives its connection back: 3 waves of 16 concurrent turns
    open 16 connections (httpx, keeping at most 8 of all its connections alive, opened 32)."""
    upstream = FakeUpstream(UpstreamOptions(tokens=4))
    connections = 0

    async def counted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await upstream.serve_connection(reader, writer)

    server = await asyncio.start_server(counted, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with new_llm_http_client(LlmSettings()) as shared:
            llm = backend_for(shared, f"http://127.0.0.1:{port}/v1")
            for _ in range(3):
                results = await asyncio.gather(*(run(llm) for _ in range(16)))
                assert all(isinstance(events[-1], Completion) for events in results)
    finally:
        server.close()
        await server.wait_closed()
    assert connections <= 16  # fewer when a turn ends before the last of a wave starts
