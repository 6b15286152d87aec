"""Plans, subscriptions, credits and usage over HTTP on PostgreSQL (contract §3, §5)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from entrypoints.app import create_app
from entrypoints.settings import Settings
from tests.e2e.flows import bearer, sign_up
from tests.e2e.tenancy_flows import Client, assert_error, current_tenant
from tests.support.mailbox import Mailbox

INTERNAL_KEY = "internal-key-for-the-billing-e2e-tests-0123456789"
INTERNAL = bearer(INTERNAL_KEY)


@pytest.fixture(scope="module")
async def internal_client(e2e_settings: Settings) -> AsyncIterator[Client]:
    settings = e2e_settings.with_overrides(internal_api_keys=(INTERNAL_KEY,))
    async with AsyncTestClient(app=create_app(settings)) as test_client:
        yield test_client


async def new_tenant(client: Client, mailbox: Mailbox) -> tuple[str, str]:
    """A signed-up owner: (tenant id, access token)."""
    _, token = await sign_up(client, mailbox)
    return (await current_tenant(client, token))["id"], token


def by_category(response: Any) -> dict[str, dict[str, str]]:
    assert response.status_code == 200, response.text
    configs = response.json()["config"]["usage_configs"]
    return {config["category"]: config for config in configs}


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def test_plans_are_administered_with_int64_as_strings(
    internal_client: Client, mailbox: Mailbox
) -> None:
    tenant_id, _ = await new_tenant(internal_client, mailbox)
    base = "/usage/internal/v1/plans"
    created = await internal_client.post(
        base,
        json={
            "plan_name": tenant_id,
            "description": "A custom deal",
            "credit_extension": 7,
            "config": {
                "usage_configs": [
                    {"category": "USAGE_CREDIT", "total_amount": "9000000000"},
                    {"category": "USAGE_AI_AGENT", "total_amount": -1},
                ]
            },
        },
        headers=INTERNAL,
    )
    assert created.status_code == 200, created.text
    plan = created.json()["plan"]
    assert plan["plan_name"] == tenant_id
    assert plan["credit_extension"] == 7
    assert plan["config"]["usage_configs"][0] == {
        "category": "USAGE_CREDIT",
        "total_amount": "9000000000",
        "used_amount": "0",
        "expiration_time": "",
    }
    assert plan["created_at"].endswith("Z")

    again = await internal_client.post(base, json={"plan_name": tenant_id}, headers=INTERNAL)
    assert_error(again, 409, 6)
    updated = await internal_client.put(
        f"{base}/{tenant_id}",
        json={"description": "Changed", "config": {"usage_configs": []}},
        headers=INTERNAL,
    )
    assert updated.status_code == 200, updated.text
    read = await internal_client.get(f"{base}/{tenant_id}", headers=INTERNAL)
    assert read.json()["plan"]["description"] == "Changed"
    deleted = await internal_client.delete(f"{base}/{tenant_id}", headers=INTERNAL)
    assert deleted.status_code == 200, deleted.text
    assert_error(await internal_client.get(f"{base}/{tenant_id}", headers=INTERNAL), 404, 5)
    assert_error(
        await internal_client.post(base, json={"plan_name": "CUSTOM"}, headers=INTERNAL), 400, 3
    )

    free = await internal_client.get(f"{base}/FREE", headers=INTERNAL)
    assert free.status_code == 200, free.text
    # The seeded trial plan is in use by every new tenant.
    assert_error(await internal_client.delete(f"{base}/NEW_USER_TRIAL", headers=INTERNAL), 402, 9)


async def test_plan_administration_needs_an_internal_key(
    internal_client: Client, mailbox: Mailbox
) -> None:
    _, token = await new_tenant(internal_client, mailbox)
    response = await internal_client.get("/usage/internal/v1/plans/FREE", headers=bearer(token))
    assert_error(response, 401, 16)


async def test_a_new_tenant_shows_its_trial_and_credits(
    internal_client: Client, mailbox: Mailbox
) -> None:
    tenant_id, token = await new_tenant(internal_client, mailbox)

    usage = by_category(
        await internal_client.get(f"/usage/v1/tenants/{tenant_id}/usage", headers=bearer(token))
    )
    assert usage["USAGE_CREDIT"]["total_amount"] == "200"
    assert usage["USAGE_CREDIT"]["used_amount"] == "0"
    assert usage["USAGE_CREDIT"]["expiration_time"].endswith("Z")
    assert usage["USAGE_AI_AGENT"]["total_amount"] == "3"
    assert usage["USAGE_AI_AGENT"]["used_amount"] == "0"

    subscription = await internal_client.get(
        f"/account/internal/v1/tenants/{tenant_id}/subscription", headers=INTERNAL
    )
    assert subscription.status_code == 200, subscription.text
    body = subscription.json()["subscription"]
    assert (body["plan"], body["period"], body["status"]) == (
        "NEW_USER_TRIAL",
        "NOT_DEFINE",
        "SUB_ACTIVE",
    )
    start = datetime.fromisoformat(body["start_at"])
    assert datetime.fromisoformat(body["end_at"]) - start == timedelta(days=14)


async def test_an_operator_extends_a_trial_and_adjusts_credits(
    internal_client: Client, mailbox: Mailbox
) -> None:
    tenant_id, token = await new_tenant(internal_client, mailbox)
    new_end = datetime.now(UTC).replace(microsecond=0) + timedelta(days=40)

    extended = await internal_client.put(
        f"/account/internal/v1/tenants/{tenant_id}/subscription",
        json={"new_end_at": rfc3339(new_end)},
        headers=INTERNAL,
    )
    assert extended.status_code == 200, extended.text
    assert extended.json()["subscription"]["end_at"] == rfc3339(new_end).replace("Z", ".000Z")
    past = await internal_client.put(
        f"/account/internal/v1/tenants/{tenant_id}/subscription",
        json={"new_end_at": "2020-01-01T00:00:00Z"},
        headers=INTERNAL,
    )
    assert_error(past, 400, 3)

    credits = f"/usage/internal/v1/tenants/{tenant_id}/credits"
    added = await internal_client.post(
        credits,
        json={"amount": "50", "reason": "goodwill"},
        headers={**INTERNAL, "Idempotency-Key": "goodwill-1"},
    )
    assert added.status_code == 200, added.text
    assert added.json() == {"balance": "250"}
    replay = await internal_client.post(
        credits,
        json={"amount": "50", "reason": "goodwill"},
        headers={**INTERNAL, "Idempotency-Key": "goodwill-1"},
    )
    assert replay.json() == {"balance": "250"}
    taken = await internal_client.post(credits, json={"amount": -230}, headers=INTERNAL)
    assert taken.json() == {"balance": "20"}, taken.text
    assert_error(
        await internal_client.post(credits, json={"amount": -21}, headers=INTERNAL), 402, 9
    )

    usage = by_category(
        await internal_client.get(f"/usage/v1/tenants/{tenant_id}/usage", headers=bearer(token))
    )
    assert (usage["USAGE_CREDIT"]["total_amount"], usage["USAGE_CREDIT"]["used_amount"]) == (
        "250",
        "230",
    )


async def test_usage_of_another_tenant_is_refused(
    internal_client: Client, mailbox: Mailbox
) -> None:
    tenant_a, _ = await new_tenant(internal_client, mailbox)
    _, stranger = await new_tenant(internal_client, mailbox)
    for response in [
        await internal_client.get(f"/usage/v1/tenants/{tenant_a}/usage", headers=bearer(stranger)),
        await internal_client.post(
            f"/usage/v1/tenants/{tenant_a}/agents/credits", json={}, headers=bearer(stranger)
        ),
        await internal_client.get(
            f"/usage/v1/tenants/{tenant_a}/agents/agent-1/credits", headers=bearer(stranger)
        ),
    ]:
        assert_error(response, 403, 7)
        assert tenant_a not in response.text


async def test_a_usage_key_reads_its_own_tenants_usage_only(
    internal_client: Client, mailbox: Mailbox
) -> None:
    tenant_id, token = await new_tenant(internal_client, mailbox)
    other_id, _ = await new_tenant(internal_client, mailbox)
    created = await internal_client.post(
        "/account/v1/tenant/api-keys",
        json={"name": "usage reader", "scopes": ["usage:read"]},
        headers=bearer(token),
    )
    assert created.status_code == 200, created.text
    key = bearer(created.json()["secret"])

    usage = by_category(
        await internal_client.get(f"/usage/v1/tenants/{tenant_id}/usage", headers=key)
    )
    assert usage["USAGE_CREDIT"]["total_amount"] == "200"
    agents = await internal_client.post(
        f"/usage/v1/tenants/{tenant_id}/agents/credits", json={"agent_ids": ["a-1"]}, headers=key
    )
    assert agents.json() == {"agent_credits": {"a-1": "0"}}, agents.text
    one = await internal_client.get(
        f"/usage/v1/tenants/{tenant_id}/agents/a-1/credits", headers=key
    )
    assert one.json() == {"credits": "0"}
    assert_error(
        await internal_client.get(f"/usage/v1/tenants/{other_id}/usage", headers=key), 403, 7
    )


async def test_variants_and_addons_are_listed_with_prices_as_strings(
    internal_client: Client, mailbox: Mailbox
) -> None:
    _, token = await new_tenant(internal_client, mailbox)
    headers = bearer(token)

    default = await internal_client.get("/account/v1/subscription/variants", headers=headers)
    assert default.status_code == 200, default.text
    assert {v["plan"] for v in default.json()["variants"]} == {"FREE"}
    pro = await internal_client.get(
        "/account/v1/subscription/variants?plan=PRO&period=YEARLY", headers=headers
    )
    [variant] = pro.json()["variants"]
    assert isinstance(variant["amount"], str)
    assert isinstance(variant["credits"], str)
    assert isinstance(variant["trial_days"], int)
    got = await internal_client.get(
        f"/account/v1/subscription/variants/{variant['id']}", headers=headers
    )
    assert got.json()["variant"] == variant
    missing = await internal_client.get("/account/v1/subscription/variants/nope", headers=headers)
    assert_error(missing, 404, 5)
    addons = await internal_client.get("/account/v1/addons", headers=headers)
    assert addons.status_code == 200, addons.text
    assert all(isinstance(a["amount"], str) for a in addons.json()["variants"])


async def test_concurrent_first_reads_grant_the_trial_once(
    internal_client: Client, mailbox: Mailbox
) -> None:
    tenant_id, token = await new_tenant(internal_client, mailbox)
    url = f"/usage/v1/tenants/{tenant_id}/usage"

    responses = await asyncio.gather(
        *(internal_client.get(url, headers=bearer(token)) for _ in range(8))
    )

    totals = {by_category(r)["USAGE_CREDIT"]["total_amount"] for r in responses}
    assert totals == {"200"}
    final = by_category(await internal_client.get(url, headers=bearer(token)))
    assert final["USAGE_CREDIT"]["total_amount"] == "200"
