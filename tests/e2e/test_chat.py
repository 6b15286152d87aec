"""Chat over HTTP on PostgreSQL + Redis with the embedded `local` backend (contract §6)."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import aconnect_sse
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families

from adapters.llm.local import LocalAgentBackend
from entrypoints.app import create_app
from entrypoints.container import Overrides
from entrypoints.settings import Settings
from tests.e2e.agent_flows import create_agent, create_api_key, leads_of
from tests.e2e.chat_flows import serving
from tests.e2e.flows import bearer, sign_up
from tests.e2e.tenancy_flows import assert_error, current_tenant
from tests.support.mailbox import Mailbox

Client = AsyncTestClient[Any]
Http = httpx.AsyncClient  # either client: the in-process one or one on a real socket
INTERNAL_KEY = "internal-key-for-the-chat-http-e2e-tests-0123456789"
CHAT = "/chat/v1/messages"
CONVERSATIONS = "/chat/v1/conversations"
EVENT_FIELDS = {"event", "task_id", "id", "message_id", "conversation_id", "created_at"}
# The local backend, slowed to one word per 0.2 s so a reply can be stopped or overlapped.
SLOW_WORD_SECONDS = 0.2
PING_SECONDS = 0.05


@pytest.fixture(scope="module")
async def client(e2e_settings: Settings) -> AsyncIterator[Client]:
    settings = e2e_settings.with_overrides(internal_api_keys=(INTERNAL_KEY,))
    async with AsyncTestClient(app=create_app(settings)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
async def slow_client(e2e_settings: Settings) -> AsyncIterator[Http]:
    """Astra on a real socket (streamed bytes arrive as sent), its model slowed down."""
    settings = e2e_settings.with_overrides(
        internal_api_keys=(INTERNAL_KEY,),
        chat_rate_per_tenant_per_minute=3,
        chat_ping_seconds=PING_SECONDS,
    )
    overrides = Overrides(llm_backend=LocalAgentBackend(delay=SLOW_WORD_SECONDS))
    async with (
        serving(create_app(settings, overrides)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30) as http,
    ):
        yield http


@dataclass(frozen=True)
class Tenant:
    id: str
    token: str
    key: str  # an API key with chat:write
    agent_id: str

    @property
    def auth(self) -> dict[str, str]:
        return bearer(self.key)


async def set_credits(client: Client, tenant_id: str, amount: int) -> None:
    response = await client.post(
        f"/usage/internal/v1/tenants/{tenant_id}/credits",
        json={"amount": amount, "reason": "e2e"},
        headers={**bearer(INTERNAL_KEY), "Idempotency-Key": secrets.token_hex(8)},
    )
    assert response.status_code == 200, response.text


async def balance_of(client: Client, tenant_id: str) -> int:
    """The balance before this probe, which leaves one more credit behind (a +1 adjustment
    is the one call that answers the balance)."""
    response = await client.post(
        f"/usage/internal/v1/tenants/{tenant_id}/credits",
        json={"amount": 1, "reason": "e2e balance probe"},
        headers={**bearer(INTERNAL_KEY), "Idempotency-Key": secrets.token_hex(8)},
    )
    assert response.status_code == 200, response.text
    return int(response.json()["balance"]) - 1


async def new_tenant(client: Client, mailbox: Mailbox, credits: int = 100) -> Tenant:
    _, token = await sign_up(client, mailbox)
    tenant_id = (await current_tenant(client, token))["id"]
    agent = await create_agent(client, token, name="Helper")
    key = await create_api_key(client, token, "chat:write")
    if credits:
        await set_credits(client, tenant_id, credits)
    return Tenant(tenant_id, token, key, agent["agent_id"])


def chat_body(tenant: Tenant, message: str = "What are your opening hours?", **more: Any) -> Any:
    return {
        "agent_id": tenant.agent_id,
        "external_user_id": "customer-1",
        "tenant_id": tenant.id,
        "message_content": message,
        "response_mode": "blocking",
        **more,
    }


async def test_blocking_reply_has_every_field_and_is_charged(
    client: Client, mailbox: Mailbox
) -> None:
    tenant = await new_tenant(client, mailbox)
    before = await balance_of(client, tenant.id)
    response = await client.post(CHAT, json=chat_body(tenant), headers=tenant.auth)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["event"] == "message"
    assert body["mode"] == "chat"
    assert body["id"] == body["message_id"]
    assert body["task_id"]
    assert body["conversation_id"]
    assert body["answer"]
    assert isinstance(body["created_at"], int)
    usage = body["metadata"]["usage"]
    assert set(usage) == {"prompt_tokens", "completion_tokens", "total_tokens", "latency"}
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0
    # The probe added one credit, the reply took one.
    assert body["metadata"]["credits"] == {"debited": "1", "balance": str(before)}
    assert await balance_of(client, tenant.id) == before


async def test_a_user_token_may_chat_too(client: Client, mailbox: Mailbox) -> None:
    tenant = await new_tenant(client, mailbox)
    response = await client.post(CHAT, json=chat_body(tenant), headers=bearer(tenant.token))
    assert response.status_code == 200, response.text


async def test_streaming_reply_is_framed_like_dify(client: Client, mailbox: Mailbox) -> None:
    tenant = await new_tenant(client, mailbox)
    body = chat_body(tenant, response_mode="streaming")
    events: list[dict[str, Any]] = []
    async with aconnect_sse(client, "POST", CHAT, json=body, headers=tenant.auth) as source:
        assert source.response.status_code == 200
        assert source.response.headers["content-type"].startswith("text/event-stream")
        assert source.response.headers["cache-control"] == "no-cache"
        assert source.response.headers["x-accel-buffering"] == "no"
        async for sse in source.aiter_sse():
            events.append(json.loads(sse.data))
    kinds = [event["event"] for event in events]
    assert kinds[-1] == "message_end"
    assert set(kinds[:-1]) == {"message"}
    for event in events:
        assert set(event) >= EVENT_FIELDS
    assert len({(e["task_id"], e["message_id"], e["conversation_id"]) for e in events}) == 1
    answer = "".join(event["answer"] for event in events[:-1])
    assert events[-1]["metadata"]["credits"]["debited"] == "1"
    stored = await messages_of(client, tenant, events[-1]["conversation_id"])
    assert [(m["role"], m["status"]) for m in stored["messages"]] == [
        ("user", "completed"),
        ("assistant", "completed"),
    ]
    assert stored["messages"][1]["content"] == answer
    assert stored["messages"][1]["credits"] == "1"


async def messages_of(
    client: Http, tenant: Tenant, conversation_id: str, **query: Any
) -> dict[str, Any]:
    response = await client.get(
        f"{CONVERSATIONS}/{conversation_id}/messages", params=query, headers=tenant.auth
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_refusals_come_before_any_model_call(client: Client, mailbox: Mailbox) -> None:
    tenant = await new_tenant(client, mailbox)
    other = await new_tenant(client, mailbox)
    agents_only = await create_api_key(client, tenant.token, "agents:read")
    cases: list[tuple[dict[str, str], Any, int, int]] = [
        ({}, chat_body(tenant), 401, 16),
        (bearer("sk_live_nope_nope"), chat_body(tenant), 401, 16),
        (bearer(agents_only), chat_body(tenant), 403, 7),
        (tenant.auth, chat_body(tenant, tenant_id=other.id), 403, 7),
        (tenant.auth, chat_body(tenant, agent_id=other.agent_id), 404, 5),
        (tenant.auth, chat_body(tenant, conversation_id="no-such-one"), 404, 5),
        (tenant.auth, chat_body(tenant, message_content=""), 400, 3),
        (tenant.auth, chat_body(tenant, response_mode="sometimes"), 400, 3),
        (tenant.auth, chat_body(tenant, external_user_id=7), 400, 3),
    ]
    for headers, body, status, code in cases:
        response = await client.post(CHAT, json=body, headers=headers)
        assert_error(response, status, code)
        assert "response_mode" not in response.headers.get("content-type", "")


async def test_without_credits_chat_answers_9(client: Client, mailbox: Mailbox) -> None:
    tenant = await new_tenant(client, mailbox, credits=0)
    # Take away everything, including the probe's credit.
    await set_credits(client, tenant.id, -(await balance_of(client, tenant.id) + 1))
    streaming = chat_body(tenant, response_mode="streaming")
    response = await client.post(CHAT, json=streaming, headers=tenant.auth)
    assert_error(response, 402, 9)


async def test_a_conversation_belongs_to_one_end_user_and_agent(
    client: Client, mailbox: Mailbox
) -> None:
    tenant = await new_tenant(client, mailbox)
    first = await client.post(CHAT, json=chat_body(tenant), headers=tenant.auth)
    conversation_id = first.json()["conversation_id"]
    again = await client.post(
        CHAT, json=chat_body(tenant, conversation_id=conversation_id), headers=tenant.auth
    )
    assert again.status_code == 200
    assert again.json()["conversation_id"] == conversation_id
    stranger = chat_body(tenant, conversation_id=conversation_id, external_user_id="someone")
    assert_error(await client.post(CHAT, json=stranger, headers=tenant.auth), 404, 5)
    other = await new_tenant(client, mailbox)
    foreign = await client.get(f"{CONVERSATIONS}/{conversation_id}/messages", headers=other.auth)
    assert_error(foreign, 404, 5)


async def test_conversations_and_messages_are_paged(client: Client, mailbox: Mailbox) -> None:
    tenant = await new_tenant(client, mailbox)
    first = await client.post(CHAT, json=chat_body(tenant), headers=tenant.auth)
    conversation_id = first.json()["conversation_id"]
    for _ in range(2):
        body = chat_body(tenant, conversation_id=conversation_id, message="Do you ship abroad?")
        assert (await client.post(CHAT, json=body, headers=tenant.auth)).status_code == 200
    await client.post(
        CHAT, json=chat_body(tenant, external_user_id="customer-2"), headers=tenant.auth
    )
    listed = await client.get(
        CONVERSATIONS,
        params={"agent_id": tenant.agent_id, "external_user_id": "customer-1"},
        headers=tenant.auth,
    )
    assert listed.status_code == 200, listed.text
    [conversation] = listed.json()["conversations"]
    assert conversation["id"] == conversation_id
    assert conversation["message_count"] == "6"
    assert conversation["created_at"].endswith("Z")
    assert conversation["source"] == ""
    everyone = await client.get(CONVERSATIONS, params={"limit": 1}, headers=tenant.auth)
    assert everyone.json()["page"] == {"page": "1", "limit": "1", "total": "2"}
    page = await messages_of(client, tenant, conversation_id, page=2, limit=4)
    assert page["page"] == {"page": "2", "limit": "4", "total": "6"}
    assert [m["role"] for m in page["messages"]] == ["user", "assistant"]
    assert set(page["messages"][0]) == {"id", "role", "content", "status", "credits", "created_at"}
    bad = await client.get(CONVERSATIONS, params={"limit": 101}, headers=tenant.auth)
    assert_error(bad, 400, 3)
    # A page whose offset would overflow int64 is refused by name, never a 500.
    for huge in ("9223372036854775807", "1000001", "99999999999999999999"):
        for path in (CONVERSATIONS, f"{CONVERSATIONS}/{conversation_id}/messages"):
            far = await client.get(path, params={"page": huge}, headers=tenant.auth)
            assert_error(far, 400, 3)


async def test_idempotent_retry_replays_and_is_charged_once(
    client: Client, mailbox: Mailbox
) -> None:
    tenant = await new_tenant(client, mailbox)
    before = await balance_of(client, tenant.id)
    headers = {**tenant.auth, "Idempotency-Key": "retry-1"}
    first = await client.post(CHAT, json=chat_body(tenant), headers=headers)
    assert first.status_code == 200, first.text
    again = await client.post(CHAT, json=chat_body(tenant), headers=headers)
    assert again.status_code == 200, again.text
    assert again.json()["message_id"] == first.json()["message_id"]
    assert again.json()["answer"] == first.json()["answer"]
    assert again.json()["metadata"]["credits"]["debited"] == "1"
    streamed: list[dict[str, Any]] = []
    body = chat_body(tenant, response_mode="streaming")
    async with aconnect_sse(client, "POST", CHAT, json=body, headers=headers) as source:
        streamed = [json.loads(sse.data) async for sse in source.aiter_sse()]
    assert [e["event"] for e in streamed] == ["message", "message_end"]
    assert streamed[0]["answer"] == first.json()["answer"]
    assert await balance_of(client, tenant.id) == before  # +1 by the probe, -1 once
    changed = chat_body(tenant, message="Something else entirely")
    assert_error(await client.post(CHAT, json=changed, headers=headers), 400, 3)
    too_long = {**tenant.auth, "Idempotency-Key": "k" * 256}
    assert_error(await client.post(CHAT, json=chat_body(tenant), headers=too_long), 400, 3)


async def test_leads_from_chat_appear_in_the_agent_lead_list(
    client: Client, mailbox: Mailbox
) -> None:
    tenant = await new_tenant(client, mailbox)
    body = chat_body(
        tenant,
        message="How long does shipping take? Write to Jo.Smith@Example.com",
        inputs={"first_name": "Jo", "phone": "+34 600 111 222"},
        source="web",
    )
    assert (await client.post(CHAT, json=body, headers=tenant.auth)).status_code == 200
    second = chat_body(tenant, message="my email is jo.smith@example.com")
    assert (await client.post(CHAT, json=second, headers=tenant.auth)).status_code == 200
    leads = (await leads_of(client, tenant.token, tenant.agent_id))["leads"]
    assert len(leads) == 1
    lead = leads[0]
    assert (lead["email"], lead["phone"], lead["first_name"]) == (
        "jo.smith@example.com",
        "+34600111222",
        "Jo",
    )
    assert lead["intent"] == "Shipping and delivery"
    assert lead["lead_score"] == 100
    assert lead["external_user_id"] == "customer-1"
    assert lead["source"] == "web"


async def test_stop_chat_aborts_a_running_reply_and_charges_what_was_sent(
    client: Client, slow_client: Http, mailbox: Mailbox
) -> None:
    tenant = await new_tenant(client, mailbox)
    body = chat_body(tenant, response_mode="streaming")
    events: list[dict[str, Any]] = []
    pings = 0
    stopped_mid_reply = False
    async with aconnect_sse(slow_client, "POST", CHAT, json=body, headers=tenant.auth) as source:
        async for sse in source.aiter_sse():
            if sse.event == "ping":  # `event: ping` + blank line while the model is silent
                assert sse.data == ""
                pings += 1
                if events and not stopped_mid_reply:
                    # The next word is 0.2 s away and its silence is filled with pings: a
                    # ping after the first word means the reply is running. Stop it now.
                    stopped_mid_reply = True
                    stopped = await slow_client.post(
                        f"{CHAT}/{events[0]['task_id']}/stop",
                        json={"external_user_id": "customer-1"},
                        headers=tenant.auth,
                    )
                    assert stopped.status_code == 200
                    assert stopped.json() == {"result": "success"}
                continue
            event = json.loads(sse.data)
            events.append(event)
            if len(events) == 1:
                busy = await slow_client.post(CHAT, json=chat_body(tenant), headers=tenant.auth)
                assert_error(busy, 429, 8)
                assert busy.headers["retry-after"] == "1"
                foreign = await slow_client.post(
                    f"{CHAT}/{event['task_id']}/stop",
                    json={"external_user_id": "someone-else"},
                    headers=tenant.auth,
                )
                assert_error(foreign, 404, 5)
    assert stopped_mid_reply
    assert pings >= 1
    assert events[-1]["event"] == "message_end"
    assert events[-1]["metadata"]["credits"]["debited"] == "1"
    stored = await messages_of(slow_client, tenant, events[0]["conversation_id"])
    reply = stored["messages"][1]
    assert reply["status"] == "aborted"
    assert reply["content"] == "".join(e["answer"] for e in events[:-1])
    unknown = await slow_client.post(
        f"{CHAT}/no-such-task/stop", json={"external_user_id": "customer-1"}, headers=tenant.auth
    )
    assert_error(unknown, 404, 5)


async def test_the_tenant_rate_limit_answers_8_with_retry_after(
    client: Client, slow_client: Http, mailbox: Mailbox
) -> None:
    tenant = await new_tenant(client, mailbox)
    users = [f"rate-user-{n}" for n in range(4)]
    bodies = [chat_body(tenant, external_user_id=user, message="hi") for user in users]
    responses = await asyncio.gather(
        *(slow_client.post(CHAT, json=body, headers=tenant.auth) for body in bodies)
    )
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200, 200, 200, 429]
    refused = next(r for r in responses if r.status_code == 429)
    assert int(refused.headers["retry-after"]) >= 1


async def test_chat_answers_14_when_redis_is_unreachable(
    client: Client, e2e_settings: Settings, mailbox: Mailbox
) -> None:
    tenant = await new_tenant(client, mailbox)
    closed = e2e_settings.with_overrides(redis_url="redis://127.0.0.1:1/0")
    async with AsyncTestClient(app=create_app(closed)) as broken:
        response = await broken.post(CHAT, json=chat_body(tenant), headers=tenant.auth)
    assert_error(response, 503, 14)
    assert response.headers["retry-after"] == "1"


async def test_a_blocking_client_that_hangs_up_aborts_its_reply(
    client: Client, slow_client: Http, mailbox: Mailbox
) -> None:
    tenant = await new_tenant(client, mailbox)
    body = chat_body(tenant, external_user_id="impatient")
    with pytest.raises(httpx.ReadTimeout):
        await slow_client.post(CHAT, json=body, headers=tenant.auth, timeout=0.5)
    loop = asyncio.get_running_loop()
    # A deadline, not the bound under test: had the hang-up not aborted it, the reply would
    # have completed (3.4 s) and be stored as "completed", which the assertion rejects.
    deadline = loop.time() + 30
    statuses: list[str] = []
    while loop.time() < deadline:
        listed = await client.get(
            CONVERSATIONS, params={"external_user_id": "impatient"}, headers=tenant.auth
        )
        conversations = listed.json()["conversations"]
        if conversations:
            stored = await messages_of(client, tenant, conversations[0]["id"])
            statuses = [m["status"] for m in stored["messages"]]
            if len(statuses) == 2:
                break
        await asyncio.sleep(0.1)
    # Aborted within about a second of the hang-up, long before the 3.4 s reply would end.
    assert statuses == ["completed", "aborted"]


async def test_the_embedded_default_chats_on_sqlite_with_limits_in_memory(
    e2e_settings: Settings, mailbox: Mailbox, tmp_path: Path
) -> None:
    embedded = e2e_settings.with_overrides(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'astra.db'}",
        redis_url="",
        internal_api_keys=(INTERNAL_KEY,),
    )
    async with AsyncTestClient(app=create_app(embedded)) as local:
        tenant = await new_tenant(local, mailbox)
        streaming = chat_body(tenant, response_mode="streaming")
        async with aconnect_sse(local, "POST", CHAT, json=streaming, headers=tenant.auth) as source:
            events = [json.loads(sse.data) async for sse in source.aiter_sse()]
        assert events[-1]["event"] == "message_end"
        body = chat_body(tenant, conversation_id=events[-1]["conversation_id"])
        reply = await local.post(CHAT, json=body, headers=tenant.auth)
        assert reply.status_code == 200, reply.text
        stored = await messages_of(local, tenant, events[-1]["conversation_id"])
        assert stored["page"]["total"] == "4"


def scrape(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a `/metrics` answer by (name, labels)."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_count_requests_turns_credits_and_refusals(
    client: Client, mailbox: Mailbox
) -> None:
    tenant = await new_tenant(client, mailbox)
    before = scrape((await client.get("/metrics")).text)
    body = chat_body(tenant, response_mode="streaming")
    async with aconnect_sse(client, "POST", CHAT, json=body, headers=tenant.auth) as source:
        assert [sse.event async for sse in source.aiter_sse()]
    missing = await client.get(
        f"{CONVERSATIONS}/no-such-conversation/messages", headers=tenant.auth
    )
    assert missing.status_code == 404
    answer = await client.get("/metrics")
    assert answer.headers["content-type"].startswith("text/plain")
    after = scrape(answer.text)

    def grew(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    route = {"method": "POST", "route": CHAT, "status": "200"}
    assert grew("astra_http_request_duration_seconds_count", **route) == 1
    assert grew("astra_chat_time_to_first_event_seconds_count") == 1
    assert grew("astra_chat_turns_total", status="completed") == 1
    assert grew("astra_credits_debited_total") == 1
    assert grew("astra_error_answers_total", code="5") == 1
    not_found = {
        "method": "GET",
        "status": "404",
        "route": CONVERSATIONS + "/{conversation_id}/messages",
    }
    assert grew("astra_http_request_duration_seconds_count", **not_found) == 1
    # No label carries an id: every route label is a template.
    for name, labels in after:
        for label, value in labels:
            assert tenant.id not in value, (name, label)
