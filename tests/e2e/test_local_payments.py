"""Paying on the embedded default (`ASTRA_PAYMENTS=local`), over HTTP as a browser does:
an owner buys PRO monthly and two add-ons on the local checkout page, sees plan, period
and credits change, upgrades to BUSINESS and cancels in the local portal; members who are
not owners are refused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from litestar.testing import AsyncTestClient

from domain.tenancy.models import Role
from entrypoints.app import create_app
from entrypoints.settings import Settings
from tests.e2e.agent_flows import join_as
from tests.e2e.flows import bearer, sign_up
from tests.e2e.tenancy_flows import assert_error, current_tenant
from tests.support.mailbox import Mailbox

pytestmark = pytest.mark.e2e

Client = AsyncTestClient[Any]
SUBSCRIPTION = "/account/v1/subscription"
RETURN = "http://app.test/billing"
PRO_CREDITS, BUSINESS_CREDITS = 5000, 25000


async def subscription(client: Client, token: str) -> dict[str, Any]:
    response = await client.get(SUBSCRIPTION, headers=bearer(token))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()["subscription"]
    return body


async def granted_credits(client: Client, token: str, tenant_id: str) -> int:
    response = await client.get(f"/usage/v1/tenants/{tenant_id}/usage", headers=bearer(token))
    assert response.status_code == 200, response.text
    configs = {c["category"]: c for c in response.json()["config"]["usage_configs"]}
    return int(configs["USAGE_CREDIT"]["total_amount"])


def page_path(redirect_url: str) -> str:
    parts = urlsplit(redirect_url)
    assert parts.netloc == "testserver.local", redirect_url
    return parts.path


async def submit(client: Client, path: str, form: dict[str, str] | None = None) -> Any:
    """Post the page's form as a browser would (urlencoded), without following the 303."""
    return await client.post(path, data=form or {}, follow_redirects=False)


@pytest.fixture(params=["sqlite", "postgresql"])
async def served(
    request: pytest.FixtureRequest,
    client: Client,
    database_url: str,
    e2e_settings: Settings,
    tmp_path: Path,
) -> AsyncIterator[tuple[Client, str]]:
    """The embedded default (SQLite, limits in memory) and PostgreSQL + Redis."""
    if request.param == "postgresql":
        yield client, database_url
        return
    sqlite_url = f"sqlite+aiosqlite:///{tmp_path / 'astra.db'}"
    embedded = e2e_settings.with_overrides(database_url=sqlite_url, redis_url="")
    async with AsyncTestClient(app=create_app(embedded)) as local:
        yield local, sqlite_url


async def test_an_owner_subscribes_buys_add_ons_upgrades_and_cancels(
    served: tuple[Client, str], mailbox: Mailbox
) -> None:
    client, database_url = served
    _, owner = await sign_up(client, mailbox)
    tenant_id = (await current_tenant(client, owner))["id"]
    assert (await subscription(client, owner))["plan"] == "NEW_USER_TRIAL"
    trial_credits = await granted_credits(client, owner, tenant_id)

    started = await client.post(SUBSCRIPTION, json={"id": "pro-monthly"}, headers=bearer(owner))
    assert started.status_code == 200, started.text
    checkout = page_path(started.json()["redirect_url"])
    again = await client.post(SUBSCRIPTION, json={"id": "pro-monthly"}, headers=bearer(owner))
    assert page_path(again.json()["redirect_url"]) == checkout  # a retry: the same page
    page = await client.get(checkout)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Pro monthly" in page.text
    assert "49.00 USD" in page.text
    assert "5,000" in page.text
    assert "<script" not in page.text

    paid = await submit(client, f"{checkout}/pay")
    assert paid.status_code == 303, paid.text
    assert paid.headers["location"] == f"{RETURN}?payment=paid"
    pro = await subscription(client, owner)
    assert (pro["plan"], pro["period"], pro["status"]) == ("PRO", "MONTHLY", "SUB_ACTIVE")
    start, end = datetime.fromisoformat(pro["start_at"]), datetime.fromisoformat(pro["end_at"])
    assert timedelta(days=28) <= end - start <= timedelta(days=31)
    assert await granted_credits(client, owner, tenant_id) == trial_credits + PRO_CREDITS
    assert (await current_tenant(client, owner))["plan"] == "PRO"

    # Paid once: the page is closed, and a second plan cannot be bought.
    replay = await submit(client, f"{checkout}/pay")
    assert replay.status_code == 402
    assert "already pays" in replay.text
    assert_error(
        await client.post(SUBSCRIPTION, json={"id": "business-monthly"}, headers=bearer(owner)),
        402,
        9,
    )

    basket = {
        "purchases": [{"id": "credits-1000", "quantity": 2}, {"id": "credits-5000", "quantity": 1}]
    }
    bought = await client.post("/account/v1/addons/purchase", json=basket, headers=bearer(owner))
    assert bought.status_code == 200, bought.text
    addons = page_path(bought.json()["redirect_url"])
    assert "7,000" in (await client.get(addons)).text
    assert (await submit(client, f"{addons}/pay")).status_code == 303
    with_addons = trial_credits + PRO_CREDITS + 7000
    assert await granted_credits(client, owner, tenant_id) == with_addons

    upgraded = await client.put(
        SUBSCRIPTION, json={"new_id": "business-monthly"}, headers=bearer(owner)
    )
    assert upgraded.status_code == 200, upgraded.text
    assert upgraded.json()["redirect_url"] == RETURN
    business = await subscription(client, owner)
    assert (business["plan"], business["start_at"]) == ("BUSINESS", pro["start_at"])
    # The month's credits are topped up to BUSINESS's, not granted a second time.
    with_upgrade = with_addons + BUSINESS_CREDITS - PRO_CREDITS
    assert await granted_credits(client, owner, tenant_id) == with_upgrade

    portal = await client.get(f"{SUBSCRIPTION}/portal", headers=bearer(owner))
    assert portal.status_code == 200, portal.text
    portal_path = page_path(portal.json()["redirect_url"])
    assert "BUSINESS" in (await client.get(portal_path)).text
    canceled = await submit(client, f"{portal_path}/cancel")
    assert canceled.status_code == 303, canceled.text
    ending = await subscription(client, owner)
    assert (ending["plan"], ending["scheduled_plan"]) == ("BUSINESS", "FREE")
    assert ending["end_at"] == business["end_at"]  # until the paid period ends
    assert await granted_credits(client, owner, tenant_id) == with_upgrade

    # Only owners pay.
    for role in (Role.ADMIN, Role.NORMAL):
        _, member = await sign_up(client, mailbox)
        await join_as(database_url, client, member, tenant_id, role)
        for response in (
            await client.post(SUBSCRIPTION, json={"id": "pro-yearly"}, headers=bearer(member)),
            await client.put(SUBSCRIPTION, json={"new_id": "pro-yearly"}, headers=bearer(member)),
            await client.get(f"{SUBSCRIPTION}/portal", headers=bearer(member)),
            await client.post("/account/v1/addons/purchase", json=basket, headers=bearer(member)),
        ):
            assert_error(response, 403, 7)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"purchases": [{"id": "credits-1000", "quantity": 0}]}, "quantity"),
        ({"purchases": [{"id": "credits-1000", "quantity": 101}]}, "quantity"),
        ({"purchases": []}, "purchases"),
    ],
)
async def test_add_on_quantities_are_one_to_a_hundred(
    client: Client, mailbox: Mailbox, body: dict[str, Any], field: str
) -> None:
    _, owner = await sign_up(client, mailbox)
    response = await client.post("/account/v1/addons/purchase", json=body, headers=bearer(owner))
    assert_error(response, 400, 3)
    assert field in response.json()["message"]


async def test_unknown_and_free_variants_cannot_be_bought(client: Client, mailbox: Mailbox) -> None:
    _, owner = await sign_up(client, mailbox)
    assert_error(
        await client.post(SUBSCRIPTION, json={"id": "no-such"}, headers=bearer(owner)), 404, 5
    )
    assert_error(
        await client.post(SUBSCRIPTION, json={"id": "free-monthly"}, headers=bearer(owner)), 400, 3
    )
    assert_error(
        await client.put(SUBSCRIPTION, json={"new_id": "pro-yearly"}, headers=bearer(owner)),
        402,
        9,
    )


async def test_a_checkout_submitted_many_times_at_once_is_paid_once(
    served: tuple[Client, str], mailbox: Mailbox
) -> None:
    client, _ = served
    _, owner = await sign_up(client, mailbox)
    tenant_id = (await current_tenant(client, owner))["id"]
    before = await granted_credits(client, owner, tenant_id)
    basket = {"purchases": [{"id": "credits-1000", "quantity": 3}]}
    bought = await client.post("/account/v1/addons/purchase", json=basket, headers=bearer(owner))
    path = page_path(bought.json()["redirect_url"])

    results = await asyncio.gather(*(submit(client, f"{path}/pay") for _ in range(8)))

    assert sorted(r.status_code for r in results) == [303] + [402] * 7
    assert await granted_credits(client, owner, tenant_id) == before + 3000
