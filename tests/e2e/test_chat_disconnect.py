"""A client that goes away mid-stream (contract §6): the model call is cancelled and only what
was produced is charged.

The upstream is `bench/fake_openai_upstream.py` as a real subprocess, one token every
`DELAY_MS`; its `/_stats` counts streams whose client (here: Astra) closed the connection
before `[DONE]`, which is how these tests see that Astra really cancelled the upstream call.
Astra is served by uvicorn on a real socket so that closing the client is a real disconnect.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from httpx_sse import aconnect_sse
from litestar.testing import AsyncTestClient

from bench.fake_openai_upstream import reply_text
from bench.infra import Server
from entrypoints.app import create_app
from entrypoints.settings import Settings
from tests.e2e.chat_flows import (
    CHAT,
    ChatTenant,
    Client,
    agent_credits,
    chat_settings,
    chat_tenant,
    configure_upstream,
    conversation_messages,
    credit_usage,
    fake_upstream,
    live_astra,
    upstream_stats,
)
from tests.support.mailbox import Mailbox

TOKENS = 100
DELAY_MS = 100  # a 10 s reply: the test closes long before it ends
CREDITS_PER_MESSAGE = 2  # not the default 1, so the charge visibly follows the setting
CHUNKS_BEFORE_CLOSING = 3
CANCELLED_WITHIN_S = 1.5  # the contract's "within a second", plus scheduling slack
SETTLED_WITHIN_S = 30.0  # a deadline: it settles at once unless broken
MODEL_CALL_STARTS_WITHIN_S = 30.0


@pytest.fixture(scope="module")
async def upstream(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    async with fake_upstream(tmp_path_factory.mktemp("upstream"), TOKENS, DELAY_MS) as server:
        yield server


@pytest.fixture(scope="module")
def settings(e2e_settings: Settings, upstream: Server) -> Settings:
    return chat_settings(
        e2e_settings, f"{upstream.base_url}/v1", "fake", credits_per_message=CREDITS_PER_MESSAGE
    )


@pytest.fixture(scope="module")
async def setup_client(settings: Settings) -> AsyncIterator[Client]:
    async with AsyncTestClient(app=create_app(settings)) as client:
        yield client


@pytest.fixture(scope="module")
async def http(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        live_astra(settings) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30.0) as client,
    ):
        yield client


@pytest.fixture
async def tenant(setup_client: Client, mailbox: Mailbox) -> ChatTenant:
    return await chat_tenant(setup_client, mailbox)


async def cancelled_after(upstream: Server, before: int, since: float) -> float:
    """Seconds from `since` until the upstream counted one more cancelled stream."""
    deadline = since + CANCELLED_WITHIN_S
    while True:
        stats = await upstream_stats(upstream)
        if stats["cancelled"] > before:
            return time.monotonic() - since
        assert time.monotonic() < deadline, f"upstream stream not cancelled: {stats}"
        await asyncio.sleep(0.02)


async def settled_reply(
    http: httpx.AsyncClient, tenant: ChatTenant, conversation_id: str
) -> dict[str, Any]:
    """The assistant message once the turn has settled (pending ones are not listed)."""
    deadline = time.monotonic() + SETTLED_WITHIN_S
    while True:
        messages = await conversation_messages(http, tenant, conversation_id)
        replies = [m for m in messages if m["role"] == "assistant"]
        if replies:
            return replies[0]
        assert time.monotonic() < deadline, f"the turn never settled: {messages}"
        await asyncio.sleep(0.05)


async def test_closing_the_stream_cancels_the_model_call_and_charges_the_partial_reply(
    http: httpx.AsyncClient, setup_client: Client, upstream: Server, tenant: ChatTenant
) -> None:
    before = await credit_usage(setup_client, tenant)
    cancelled = (await upstream_stats(upstream))["cancelled"]
    received: list[dict[str, Any]] = []

    async with aconnect_sse(
        http, "POST", CHAT, json=tenant.turn("hello", "streaming"), headers=tenant.key
    ) as source:
        assert source.response.status_code == 200
        async for sse in source.aiter_sse():
            if sse.data:
                received.append(sse.json())
            if len(received) == CHUNKS_BEFORE_CLOSING:
                break
    closed_at = time.monotonic()  # leaving the block closed the unfinished response

    took = await cancelled_after(upstream, cancelled, closed_at)
    assert took <= CANCELLED_WITHIN_S
    assert [e["event"] for e in received] == ["message"] * CHUNKS_BEFORE_CLOSING
    shown = "".join(e["answer"] for e in received)
    reply = await settled_reply(http, tenant, received[0]["conversation_id"])
    assert reply["status"] == "aborted"
    # What the model produced: at least what the client saw, never more than the full reply.
    assert reply["content"].startswith(shown)
    assert reply_text(TOKENS).startswith(reply["content"])
    assert len(reply["content"]) < len(reply_text(TOKENS))
    assert reply["credits"] == str(CREDITS_PER_MESSAGE)
    after = await credit_usage(setup_client, tenant)
    assert int(after["used_amount"]) == int(before["used_amount"]) + CREDITS_PER_MESSAGE
    assert await agent_credits(setup_client, tenant) == str(CREDITS_PER_MESSAGE)


async def test_a_client_gone_before_any_output_is_not_charged(
    http: httpx.AsyncClient, setup_client: Client, upstream: Server, tenant: ChatTenant
) -> None:
    await configure_upstream(upstream, delay_ms=3000)  # the first token comes after 3 s
    try:
        before = await credit_usage(setup_client, tenant)
        stats = await upstream_stats(upstream)
        body = tenant.turn("hello", "streaming")

        async def read_all() -> None:
            async with http.stream("POST", CHAT, json=body, headers=tenant.key) as response:
                assert response.status_code == 200, await response.aread()
                async for _ in response.aiter_bytes():
                    pass

        reading = asyncio.create_task(read_all())
        deadline = time.monotonic() + MODEL_CALL_STARTS_WITHIN_S
        while (await upstream_stats(upstream))["started"] == stats["started"]:
            if reading.done():
                await reading  # raises why the turn ended before the model call
            assert time.monotonic() < deadline, "the model call never started"
            await asyncio.sleep(0.02)
        reading.cancel()  # the client goes away: httpx closes the connection
        with pytest.raises(asyncio.CancelledError):
            await reading
        closed_at = time.monotonic()

        await cancelled_after(upstream, stats["cancelled"], closed_at)
    finally:
        await configure_upstream(upstream, delay_ms=DELAY_MS)
    listed = await http.get(
        "/chat/v1/conversations",
        params={"agent_id": tenant.agent_id, "external_user_id": body["external_user_id"]},
        headers=tenant.key,
    )
    assert listed.status_code == 200, listed.text
    [conversation] = listed.json()["conversations"]
    reply = await settled_reply(http, tenant, conversation["id"])
    assert (reply["status"], reply["content"], reply["credits"]) == ("aborted", "", "0")
    assert await credit_usage(setup_client, tenant) == before
    assert await agent_credits(setup_client, tenant) == "0"
