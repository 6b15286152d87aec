"""The credit check holds under concurrency, over HTTP on PostgreSQL + Redis (contract §6).

20 end users of one tenant send a turn at the same moment while the tenant has credits for
exactly 5. Replies take ~0.6 s at the (real, subprocess) fake upstream, so all 20 turns are in
flight together: exactly 5 may be answered; the others are refused before any model call
(`9` no credits, or `8` if a limit stopped them), and the ledger ends at 0 with 5 spent.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest
from litestar.testing import AsyncTestClient

from bench.infra import Server
from entrypoints.app import create_app
from entrypoints.settings import Settings
from tests.e2e.chat_flows import (
    CHAT,
    ChatTenant,
    Client,
    agent_credits,
    balance,
    chat_settings,
    chat_tenant,
    conversation_messages,
    credit_usage,
    fake_upstream,
    live_astra,
    set_balance,
    upstream_stats,
)
from tests.e2e.flows import bearer
from tests.support.mailbox import Mailbox

TURNS = 20
CREDITS = 5
TOKENS = 32
DELAY_MS = 20  # 32 tokens x 20 ms: every turn is still running when the last one arrives


@pytest.fixture(scope="module")
async def upstream(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    async with fake_upstream(tmp_path_factory.mktemp("upstream"), TOKENS, DELAY_MS) as server:
        yield server


@pytest.fixture(scope="module")
def settings(e2e_settings: Settings, upstream: Server) -> Settings:
    return chat_settings(e2e_settings, f"{upstream.base_url}/v1", "fake")


@pytest.fixture(scope="module")
async def setup_client(settings: Settings) -> AsyncIterator[Client]:
    async with AsyncTestClient(app=create_app(settings)) as client:
        yield client


async def test_twenty_concurrent_turns_with_credits_for_five_answer_exactly_five(
    settings: Settings, setup_client: Client, upstream: Server, mailbox: Mailbox
) -> None:
    tenant: ChatTenant = await chat_tenant(setup_client, mailbox)
    await set_balance(setup_client, tenant, CREDITS)
    used_before = int((await credit_usage(setup_client, tenant))["used_amount"])
    started_before = (await upstream_stats(upstream))["started"]
    bodies = [tenant.turn(f"question {n}") for n in range(TURNS)]

    limits = httpx.Limits(max_connections=TURNS, max_keepalive_connections=TURNS)
    async with (
        live_astra(settings) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=60.0, limits=limits) as http,
    ):
        # Open every connection first, so the 20 turns really arrive together.
        await asyncio.gather(*(http.get("/healthz") for _ in range(TURNS)))
        responses = await asyncio.gather(
            *(http.post(CHAT, json=body, headers=tenant.key) for body in bodies)
        )
        answered = [r.json() for r in responses if r.status_code == 200]
        refused = Counter(
            (r.status_code, r.json()["code"]) for r in responses if r.status_code != 200
        )
        histories = [
            await conversation_messages(http, tenant, a["conversation_id"]) for a in answered
        ]
        listed = await http.get(
            "/chat/v1/conversations", params={"agent_id": tenant.agent_id}, headers=tenant.key
        )

    assert len(answered) == CREDITS, [r.text for r in responses]
    assert set(refused) <= {(402, 9), (429, 8)}, refused
    assert sum(refused.values()) == TURNS - CREDITS
    for answer in answered:
        assert answer["answer"]
        assert answer["metadata"]["credits"]["debited"] == "1"
    # Refused turns never reached the model and left no conversation behind.
    assert (await upstream_stats(upstream))["started"] - started_before == CREDITS
    assert listed.status_code == 200, listed.text
    assert listed.json()["page"]["total"] == str(CREDITS)
    for history in histories:
        assert [(m["role"], m["status"], m["credits"]) for m in history] == [
            ("user", "completed", "0"),
            ("assistant", "completed", "1"),
        ]

    # The ledger agrees with itself: nothing left, 5 more used, all of it by this agent.
    assert await balance(setup_client, tenant) == 0
    usage = await credit_usage(setup_client, tenant)
    assert int(usage["used_amount"]) == used_before + CREDITS
    assert await agent_credits(setup_client, tenant) == str(CREDITS)
    credits_by_agent = await setup_client.post(
        f"/usage/v1/tenants/{tenant.tenant_id}/agents/credits",
        json={"agent_ids": []},
        headers=bearer(tenant.token),
    )
    assert credits_by_agent.status_code == 200, credits_by_agent.text
    assert credits_by_agent.json()["agent_credits"] == {tenant.agent_id: str(CREDITS)}
