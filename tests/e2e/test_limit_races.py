"""Check-then-act guards under real concurrency, on SQLite (the embedded default) and on
PostgreSQL: many requests in flight at once through the HTTP stack.

- The plan's agent limit: 10 parallel creations on a trial (3 agents) create exactly 3.
- The owner guard: two owners demoting, or removing, each other at the same moment never
  leave the tenant without an owner.
- Codes and tokens: 60 parallel wrong codes are compared exactly five times; of parallel
  uses of one reset code, one reset token or one invitation link exactly one succeeds.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.astra import astra_deployment
from bench.infra import REDIS_URL
from domain.tenancy.models import Role
from tests.e2e.agent_flows import AGENTS, join_as
from tests.e2e.flows import (
    DEFAULT_PASSWORD,
    bearer,
    let_a_minute_pass_for,
    new_email,
    sign_up,
)
from tests.e2e.tenancy_flows import current_tenant, invite, members, token_in
from tests.support.mailbox import Mailbox

pytestmark = pytest.mark.e2e

Client = Any  # httpx.AsyncClient, as the e2e helpers take it
PARALLEL = 10
ROUNDS = 5
REGISTER_VERIFY = "/account/v1/auth/register/verify"
FORGOT_VERIFY = "/account/v1/auth/password/forgot/verify"
RESET = "/account/v1/auth/password/reset"


@dataclass(frozen=True, slots=True)
class Served:
    client: Client
    database_url: str
    mailbox: Mailbox
    redis_prefix: str

    async def let_a_minute_pass_for(self, email: str) -> None:
        await let_a_minute_pass_for(REDIS_URL, self.redis_prefix, email)


@pytest.fixture(params=["sqlite", "postgresql"])
async def served(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Served]:
    """`astra serve` in a process of its own: in-process test clients do not interleave
    requests the way a real server under parallel connections does. Limits live in Redis
    for both databases, so a test can let a code throttle's minute pass."""
    extra: dict[str, str] = {}
    if request.param == "sqlite":
        extra = {"ASTRA_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'astra.db'}"}
    async with (
        astra_deployment(extra) as deployment,
        httpx.AsyncClient(base_url=deployment.base_url, timeout=60.0) as client,
    ):
        database_url = extra.get("ASTRA_DATABASE_URL", deployment.database_url)
        yield Served(client, database_url, deployment.mailbox, deployment.redis_prefix)


async def test_parallel_agent_creations_stop_at_the_plan_limit(
    served: Served,
) -> None:
    client, mailbox = served.client, served.mailbox
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
    served: Served,
) -> None:
    client, database_url, mailbox = served.client, served.database_url, served.mailbox
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


WRONG_TRIES = 60
PARALLEL_USES = 8


def a_wrong_code(right: str) -> str:
    return "000000" if right != "000000" else "111111"


async def test_parallel_wrong_codes_are_checked_five_times_and_no_more(
    served: Served,
) -> None:
    client, mailbox = served.client, served.mailbox
    email = new_email()
    started = await client.post("/account/v1/auth/register", json={"email": email})
    assert started.status_code == 200, started.text
    code = await mailbox.code_for(email)
    attempt = {"email": email, "token": started.json()["token"]}
    wrong = {**attempt, "code": a_wrong_code(code)}
    responses = await asyncio.gather(
        *(client.post(REGISTER_VERIFY, json=wrong) for _ in range(WRONG_TRIES))
    )
    messages = Counter(r.json()["message"] for r in responses)
    assert messages == Counter(
        {"code: is incorrect": 5, "code: has expired; request a new one": WRONG_TRIES - 5}
    ), messages
    # Five wrong tries killed it: the right code no longer works either.
    late = await client.post(REGISTER_VERIFY, json={**attempt, "code": code})
    assert late.status_code == 400, late.text


async def test_a_reset_code_and_a_reset_token_work_once_under_parallel_use(
    served: Served,
) -> None:
    client, mailbox = served.client, served.mailbox
    email, _ = await sign_up(client, mailbox)
    await served.let_a_minute_pass_for(email)  # the sign-up's code was sent just now
    forgot = await client.post("/account/v1/auth/password/forgot", json={"email": email})
    assert forgot.status_code == 200, forgot.text
    code = await mailbox.code_for(email, count=2)  # the first was the sign-up's
    verify = {"email": email, "code": code, "token": forgot.json()["token"]}
    verified = await asyncio.gather(
        *(client.post(FORGOT_VERIFY, json=verify) for _ in range(PARALLEL_USES))
    )
    tokens = [r.json()["new_token"] for r in verified if r.json()["is_valid"]]
    assert len(tokens) == 1, [r.text for r in verified]
    reset = {"token": tokens[0], "new_password": "a new horse battery", "password_confirm": ""}
    reset["password_confirm"] = reset["new_password"]
    results = await asyncio.gather(*(client.post(RESET, json=reset) for _ in range(PARALLEL_USES)))
    assert sorted(r.status_code for r in results) == [200] + [400] * (PARALLEL_USES - 1)


async def test_an_invitation_link_is_accepted_once_under_parallel_use(served: Served) -> None:
    client, mailbox = served.client, served.mailbox
    _, ann = await sign_up(client, mailbox)
    bob_email, _ = await sign_up(client, mailbox)  # an existing account joins with its password
    carol_email = new_email()  # a new one is created by the link
    bob_link, carol_link = (
        ret["invite_url"]
        for ret in await invite(client, ann, (bob_email, "normal"), (carol_email, "admin"))
    )
    for email, link in ((bob_email, bob_link), (carol_email, carol_link)):
        accept = {"email": email, "password": DEFAULT_PASSWORD, "invite_token": token_in(link)}
        results = await asyncio.gather(
            *(client.post("/account/v1/invites/accept", json=accept) for _ in range(PARALLEL_USES))
        )
        statuses = sorted(r.status_code for r in results)
        assert statuses == [200] + [400] * (PARALLEL_USES - 1), [r.text for r in results]
    joined = await members(client, ann)
    assert (joined[bob_email]["status"], joined[carol_email]["status"]) == ("active", "active")


BURST = 150


async def test_a_burst_of_wrong_passwords_gets_no_more_tries_than_one_after_another(
    served: Served,
) -> None:
    client, mailbox = served.client, served.mailbox
    email, _ = await sign_up(client, mailbox)
    wrong = {"email": email, "password": "certainly not it"}
    responses = await asyncio.gather(
        *(client.post("/account/v1/auth/login", json=wrong) for _ in range(BURST))
    )
    statuses = Counter(r.status_code for r in responses)
    assert statuses == Counter({401: 10, 429: BURST - 10}), statuses
    # Forwarded headers are not believed by default: another "client" is the same one.
    spoofed = await client.post(
        "/account/v1/auth/login",
        json={"email": email, "password": DEFAULT_PASSWORD},
        headers={"X-Forwarded-For": "203.0.113.7"},
    )
    assert spoofed.status_code == 429, spoofed.text
