"""Picks the model backend from `ASTRA_LLM_*` and owns the HTTP client it streams over."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from adapters.llm.local import LocalAgentBackend
from adapters.llm.openai import LLMTimeouts, OpenAICompatibleBackend
from application.chat.ports import LLMBackend
from entrypoints.settings import LlmSettings, Settings

# Every chat turn holds one connection for the whole reply: room for well over 32 concurrent
# streams per process, with idle connections kept warm for the next turns.
MAX_CONNECTIONS = 200
# Small on purpose: httpcore 1.0.x walks every pooled connection on each request and release
# (encode/httpcore#1035), so a large idle pool costs more CPU at high concurrency than the
# connections it saves; a few cover the steady state of one worker.
MAX_KEEPALIVE_CONNECTIONS = 8
KEEPALIVE_EXPIRY_SECONDS = 30.0


def new_llm_http_client(llm: LlmSettings) -> httpx.AsyncClient:
    """The shared client for model servers; the caller closes it (`await client.aclose()`)."""
    return httpx.AsyncClient(
        limits=httpx.Limits(
            max_connections=MAX_CONNECTIONS,
            max_keepalive_connections=MAX_KEEPALIVE_CONNECTIONS,
            keepalive_expiry=KEEPALIVE_EXPIRY_SECONDS,
        ),
        # Per-request timeouts are set by the backend; this is only the fallback.
        timeout=httpx.Timeout(llm.first_byte_timeout, connect=llm.connect_timeout),
    )


def build_llm_backend(settings: Settings, http: httpx.AsyncClient | None) -> LLMBackend:
    """`local` needs nothing; `openai` streams over `http`, which the caller owns and closes."""
    llm = settings.llm
    if llm.backend == "local":
        return LocalAgentBackend()
    if http is None:
        raise ValueError("the openai LLM backend needs an httpx.AsyncClient (new_llm_http_client)")
    return OpenAICompatibleBackend(
        client=http,
        base_url=llm.base_url,
        api_key=llm.api_key,
        default_model=llm.model,
        timeouts=LLMTimeouts(
            connect=llm.connect_timeout,
            first_byte=llm.first_byte_timeout,
            idle=llm.idle_timeout,
        ),
        max_retries=llm.max_retries,
    )


@asynccontextmanager
async def open_llm_backend(settings: Settings) -> AsyncIterator[LLMBackend]:
    """The configured backend, with its HTTP client (if any) closed on exit.

    Composition root: `llm = await stack.enter_async_context(open_llm_backend(settings))`.
    """
    if settings.llm.backend == "local":
        yield build_llm_backend(settings, None)
        return
    async with new_llm_http_client(settings.llm) as http:
        yield build_llm_backend(settings, http)
