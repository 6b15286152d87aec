"""`OpenAICompatibleBackend` against a real llama.cpp server running a tiny random model."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from adapters.llm.openai import LLMTimeouts, OpenAICompatibleBackend
from adapters.llm.token_count import count_prompt_tokens
from application.chat.ports import Completion, LLMEvent, LLMRequest, PromptMessage, TextDelta
from domain.errors import InvalidArgument, Unavailable
from entrypoints.llm_wiring import new_llm_http_client
from entrypoints.settings import LlmSettings
from tests.support.llama import LlamaServer

pytestmark = pytest.mark.integration

TIMEOUTS = LLMTimeouts(connect=2.0, first_byte=30.0, idle=15.0)


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with new_llm_http_client(LlmSettings()) as http:
        yield http


def backend(
    client: aiohttp.ClientSession, base_url: str, model: str = "tiny"
) -> OpenAICompatibleBackend:
    return OpenAICompatibleBackend(client, base_url, "", model, TIMEOUTS, max_retries=1)


def ask(text: str, max_tokens: int = 12, model: str = "") -> LLMRequest:
    messages = [PromptMessage("system", "You are a shop assistant."), PromptMessage("user", text)]
    return LLMRequest(messages, model=model, temperature=0.0, max_tokens=max_tokens)


async def collect(stream: AsyncIterator[LLMEvent]) -> tuple[str, Completion]:
    events = [event async for event in stream]
    *deltas, completion = events
    assert isinstance(completion, Completion)
    assert all(isinstance(delta, TextDelta) for delta in deltas)
    return "".join(d.text for d in deltas if isinstance(d, TextDelta)), completion


async def test_streams_text_deltas_then_a_completion_with_counted_tokens(
    client: aiohttp.ClientSession, llama_server: LlamaServer
) -> None:
    chunks: list[str] = []
    completion: Completion | None = None
    async for event in backend(client, llama_server.base_url).stream(ask("hello", 8)):
        if isinstance(event, TextDelta):
            assert completion is None, "no text after the completion"
            chunks.append(event.text)
        else:
            completion = event
    assert completion is not None
    assert len(chunks) >= 2
    assert "".join(chunks).strip()
    # llama.cpp sends an empty usage: one token per text chunk, prompt approximated offline.
    assert completion.completion_tokens == len(chunks) <= 8
    assert completion.prompt_tokens == count_prompt_tokens(ask("hello").messages)
    assert completion.finish_reason in {"stop", "length"}


async def test_a_blocking_style_full_read_is_deterministic_at_temperature_zero(
    client: aiohttp.ClientSession, llama_server: LlamaServer
) -> None:
    llm = backend(client, llama_server.base_url)
    first, done = await collect(llm.stream(ask("what are your opening hours?")))
    second, _ = await collect(llm.stream(ask("what are your opening hours?")))
    assert first == second
    assert first.strip()
    assert done.finish_reason == "length"  # the random model never picks its end token


async def test_an_unknown_agent_model_name_is_accepted(
    client: aiohttp.ClientSession, llama_server: LlamaServer
) -> None:
    text, completion = await collect(
        backend(client, llama_server.base_url).stream(ask("hi", 4, model="gpt-unknown"))
    )
    assert text
    assert completion.model == "gpt-unknown"


async def test_a_prompt_longer_than_the_context_is_invalid_argument(
    client: aiohttp.ClientSession, llama_server: LlamaServer
) -> None:
    too_long = "word " * 700  # the server runs with --n_ctx 512
    with pytest.raises(InvalidArgument) as raised:
        await collect(backend(client, llama_server.base_url).stream(ask(too_long)))
    assert raised.value.field == "message_content"
    # The server keeps working afterwards.
    text, _ = await collect(backend(client, llama_server.base_url).stream(ask("hello", 3)))
    assert text


async def test_closing_early_leaves_the_server_usable(
    client: aiohttp.ClientSession, llama_server: LlamaServer
) -> None:
    stream = backend(client, llama_server.base_url).stream(ask("hello", 200))
    assert isinstance(await anext(stream), TextDelta)
    await stream.aclose()  # type: ignore[attr-defined]
    text, _ = await collect(backend(client, llama_server.base_url).stream(ask("hello", 3)))
    assert text


async def test_a_server_that_is_down_is_unavailable(client: aiohttp.ClientSession) -> None:
    async with aiohttp.ClientSession() as probe:
        # Nothing listens on port 9 of loopback (discard service is never enabled here).
        with pytest.raises(aiohttp.ClientConnectorError):
            await probe.get("http://127.0.0.1:9/v1/models")
    with pytest.raises(Unavailable, match="cannot be reached"):
        await collect(backend(client, "http://127.0.0.1:9/v1").stream(ask("hello")))
