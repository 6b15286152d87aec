"""Check-then-act guards under real concurrency, on SQLite (the embedded default) and on
PostgreSQL: many requests in flight at once through the HTTP stack.

- The plan's agent limit: 10 parallel creations on a trial (3 agents) create exactly 3.
- The owner guard: two owners demoting, or removing, each other at the same moment never
  leave the tenant without an owner.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.astra import astra_deployment
from domain.tenancy.models import Role
from tests.e2e.agent_flows import AGENTS, join_as
from tests.e2e.flows import bearer, sign_up
from tests.e2e.tenancy_flows import current_tenant, members
from tests.support.mailbox import Mailbox

pytestmark = pytest.mark.e2e

Client = Any  # httpx.AsyncClient, as the e2e helpers take it
PARALLEL = 10
ROUNDS = 5


@pytest.fixture(params=["sqlite", "postgresql"])
async def served(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Client, str, Mailbox]]:
    """`astra serve` in a process of its own: in-process test clients do not interleave
    requests the way a real server under parallel connections does."""
    extra: dict[str, str] = {}
    if request.param == "sqlite":
        extra = {
            "ASTRA_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'astra.db'}",
            "ASTRA_REDIS_URL": "",
        }
    async with (
        astra_deployment(extra) as deployment,
        httpx.AsyncClient(base_url=deployment.base_url, timeout=60.0) as client,
    ):
        database_url = extra.get("ASTRA_DATABASE_URL", deployment.database_url)
        yield client, database_url, deployment.mailbox


async def test_parallel_agent_creations_stop_at_the_plan_limit(
    served: tuple[Client, str, Mailbox],
) -> None:
    client, _, mailbox = served
    _, token = await sign_up(client, mailbox)
    tenant_id = (await current_tenant(client, token))["id"]
    usage = await client.get(f"/usage/v1/tenants/{tenant_id}/usage", headers=bearer(token))
    configs = {c["category"]: c for c in usage.json()["config"]["usage_configs"]}
    limit = int(configs["USAGE_AI_AGENT"]["total_amount"])
    assert 0 < limit < PARALLEL

    responses = await asyncio.gather(
        *(
            client.post(AGENTS, json={"template_id": "faq-assistant"}, headers=bearer(token))
            for _ in range(PARALLEL)
        )
    )
    statuses = Counter(r.status_code for r in responses)
    assert statuses == Counter({200: limit, 402: PARALLEL - limit}), statuses
    listed = await client.get(AGENTS, headers=bearer(token))
    assert len(listed.json()["agents"]) == limit


async def owners(client: Client, token: str) -> list[str]:
    return [email for email, m in (await members(client, token)).items() if m["role"] == "owner"]


async def test_two_owners_demoting_or_removing_each_other_leave_an_owner(
    served: tuple[Client, str, Mailbox],
) -> None:
    client, database_url, mailbox = served
    for round_ in range(ROUNDS):
        ann_email, ann = await sign_up(client, mailbox)
        bob_email, bob = await sign_up(client, mailbox)
        tenant_id = (await current_tenant(client, ann))["id"]
        await join_as(database_url, client, bob, tenant_id, Role.OWNER)
        if round_ % 2 == 0:
            path, body = "/account/v1/tenant/members/role", {"role": "normal"}
        else:
            path, body = "/account/v1/tenant/members/delete", {}
        results = await asyncio.gather(
            client.post(path, json={"email": bob_email, **body}, headers=bearer(ann)),
            client.post(path, json={"email": ann_email, **body}, headers=bearer(bob)),
        )
        statuses = sorted(r.status_code for r in results)
        assert statuses[0] == 200, [r.text for r in results]
        assert statuses[1] != 200, (path, [r.text for r in results])  # one of them must lose
        survivor = ann if results[0].status_code == 200 else bob
        assert len(await owners(client, survivor)) == 1
