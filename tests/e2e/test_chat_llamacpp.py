"""Chat end to end against a real llama.cpp server (contract §6), over a real socket.

Astra runs with `ASTRA_LLM_BACKEND=openai` pointed at the `llama_server` fixture (a tiny
random-weight model, n_ctx 512). The stream is read with httpx-sse, an SSE parser that Astra
does not use on its server side, so the framing is checked by an independent implementation.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from httpx_sse import aconnect_sse
from litestar.testing import AsyncTestClient

from bench.infra import free_port
from entrypoints.app import create_app
from entrypoints.settings import Settings
from tests.e2e.chat_flows import (
    CHAT,
    ChatTenant,
    Client,
    chat_settings,
    chat_tenant,
    conversation_messages,
    credit_usage,
    live_astra,
)
from tests.support.llama import LlamaServer
from tests.support.mailbox import Mailbox

# Short instructions and replies: the tiny model's vocabulary spells most words letter by
# letter, and n_ctx is 512 tokens for prompt and reply together.
SMALL_CONFIG = {"instructions": "Answer briefly.", "max_tokens": 16, "temperature": 0}
# ~1,800 tokens for the tiny model (each "qz" is three), far beyond n_ctx 512, yet a message
# length any API accepts: the refusal must come from the model server, not input validation.
OVERFLOWING_MESSAGE = "qz " * 600
EVENT_FIELDS = {"event", "task_id", "id", "message_id", "conversation_id", "created_at"}


@pytest.fixture(scope="module")
def llama_settings(e2e_settings: Settings, llama_server: LlamaServer) -> Settings:
    return chat_settings(e2e_settings, llama_server.base_url, llama_server.model)


@pytest.fixture(scope="module")
async def setup_client(llama_settings: Settings) -> AsyncIterator[Client]:
    async with AsyncTestClient(app=create_app(llama_settings)) as client:
        yield client


@pytest.fixture(scope="module")
async def http(llama_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        live_astra(llama_settings) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=60.0) as client,
    ):
        yield client


@pytest.fixture(scope="module")
async def tenant(setup_client: Client, mailbox: Mailbox) -> ChatTenant:
    return await chat_tenant(setup_client, mailbox, SMALL_CONFIG)


async def read_stream(
    http: httpx.AsyncClient, tenant: ChatTenant, body: dict[str, Any]
) -> tuple[httpx.Response, list[dict[str, Any]]]:
    """Every data event of a streaming turn, parsed by httpx-sse; pings are skipped."""
    events: list[dict[str, Any]] = []
    async with aconnect_sse(http, "POST", CHAT, json=body, headers=tenant.key) as source:
        response = source.response
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            async for sse in source.aiter_sse():
                if sse.data:
                    events.append(sse.json())
        else:
            await response.aread()
    return response, events


async def test_a_streamed_reply_arrives_as_message_events_then_message_end(
    http: httpx.AsyncClient, setup_client: Client, tenant: ChatTenant
) -> None:
    before = await credit_usage(setup_client, tenant)

    response, events = await read_stream(http, tenant, tenant.turn("hello world", "streaming"))

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert [e["event"] for e in events[:-1]] == ["message"] * (len(events) - 1)
    assert len(events) >= 2, events
    end = events[-1]
    assert end["event"] == "message_end", end
    for event in events:
        assert set(event) >= EVENT_FIELDS, event
        assert (event["task_id"], event["conversation_id"]) == (
            end["task_id"],
            end["conversation_id"],
        )
    usage = end["metadata"]["usage"]
    assert usage["completion_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert end["metadata"]["credits"]["debited"] == "1"
    answer = "".join(e["answer"] for e in events[:-1])
    assert answer

    stored = await conversation_messages(http, tenant, end["conversation_id"])
    assert [(m["role"], m["status"]) for m in stored] == [
        ("user", "completed"),
        ("assistant", "completed"),
    ]
    assert stored[0]["content"] == "hello world"
    assert stored[1]["content"] == answer
    assert stored[1]["credits"] == "1"
    after = await credit_usage(setup_client, tenant)
    assert int(after["used_amount"]) == int(before["used_amount"]) + 1
    balance = int(after["total_amount"]) - int(after["used_amount"])
    assert end["metadata"]["credits"]["balance"] == str(balance)


async def test_a_blocking_reply_is_one_json_answer(
    http: httpx.AsyncClient, setup_client: Client, tenant: ChatTenant
) -> None:
    before = await credit_usage(setup_client, tenant)

    response = await http.post(CHAT, json=tenant.turn("hello"), headers=tenant.key)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["event"] == "message"
    assert body["mode"] == "chat"
    assert body["answer"]
    assert isinstance(body["created_at"], int)
    assert body["metadata"]["credits"]["debited"] == "1"
    assert body["metadata"]["usage"]["completion_tokens"] > 0
    stored = await conversation_messages(http, tenant, body["conversation_id"])
    assert stored[-1]["id"] == body["message_id"]
    assert (stored[-1]["content"], stored[-1]["status"]) == (body["answer"], "completed")
    after = await credit_usage(setup_client, tenant)
    assert int(after["used_amount"]) == int(before["used_amount"]) + 1


async def test_a_message_beyond_the_context_is_refused_cleanly_and_not_charged(
    http: httpx.AsyncClient, setup_client: Client, tenant: ChatTenant
) -> None:
    before = await credit_usage(setup_client, tenant)

    blocking = await http.post(CHAT, json=tenant.turn(OVERFLOWING_MESSAGE), headers=tenant.key)
    assert blocking.status_code == 400, blocking.text
    assert blocking.json()["code"] == 3
    assert "message_content" in blocking.json()["message"]

    response, events = await read_stream(
        http, tenant, tenant.turn(OVERFLOWING_MESSAGE, "streaming")
    )
    if response.status_code == 200:  # refused after the stream opened: one error event
        assert [e["event"] for e in events] == ["error"], events
        assert (events[0]["status"], events[0]["code"]) == (400, 3)
    else:
        assert response.status_code == 400
        assert response.json()["code"] == 3

    assert await credit_usage(setup_client, tenant) == before


async def test_a_model_server_that_is_down_answers_14_and_charges_nothing(
    e2e_settings: Settings, setup_client: Client, tenant: ChatTenant
) -> None:
    closed_port = free_port()  # nothing listens there
    settings = chat_settings(e2e_settings, f"http://127.0.0.1:{closed_port}/v1", "tiny")
    before = await credit_usage(setup_client, tenant)

    async with (
        live_astra(settings) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=60.0) as down,
    ):
        blocking = await down.post(CHAT, json=tenant.turn("hello"), headers=tenant.key)
        assert blocking.status_code == 503, blocking.text
        assert blocking.json()["code"] == 14
        assert int(blocking.headers["Retry-After"]) >= 1

        response, events = await read_stream(down, tenant, tenant.turn("hello", "streaming"))
        if response.status_code == 200:
            assert [e["event"] for e in events] == ["error"], events
            assert (events[0]["status"], events[0]["code"]) == (503, 14)
        else:
            assert response.status_code == 503
            assert response.json()["code"] == 14

    assert await credit_usage(setup_client, tenant) == before
