"""Picks the model backend from `ASTRA_LLM_*` and owns the HTTP client it streams over."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp

from adapters.llm.local import LocalAgentBackend
from adapters.llm.openai import LLMTimeouts, OpenAICompatibleBackend
from application.chat.ports import LLMBackend
from entrypoints.settings import LlmSettings, Settings

# Every chat turn holds one connection for the whole reply: room for well over 32 concurrent
# streams per process. Every connection that finished a reply is kept warm for the next turn
# (aiohttp keeps idle ones in a per-host list and takes the most recent in O(1)).
MAX_CONNECTIONS = 200
KEEPALIVE_EXPIRY_SECONDS = 30.0


def new_llm_http_client(llm: LlmSettings) -> aiohttp.ClientSession:
    """The shared session for model servers; the caller closes it (`await session.close()`,
    or `async with`). Must be made inside the running event loop."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(
            limit=MAX_CONNECTIONS, limit_per_host=0, keepalive_timeout=KEEPALIVE_EXPIRY_SECONDS
        ),
        # Per-request timeouts are set by the backend; this is only the fallback.
        timeout=aiohttp.ClientTimeout(
            total=None, connect=llm.connect_timeout, sock_connect=llm.connect_timeout
        ),
        # The model server's own answers only: no cookies, no proxy settings from the
        # environment, raw bytes (the backend decodes JSON with msgspec).
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
        auto_decompress=True,
    )


def build_llm_backend(settings: Settings, http: aiohttp.ClientSession | None) -> LLMBackend:
    """`local` needs nothing; `openai` streams over `http`, which the caller owns and closes."""
    llm = settings.llm
    if llm.backend == "local":
        return LocalAgentBackend()
    if http is None:
        raise ValueError("the openai LLM backend needs an aiohttp session (new_llm_http_client)")
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
