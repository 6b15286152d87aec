"""Every tenancy endpoint refuses a second tenant's user and API key with 7 or 5, never data."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from entrypoints.app import create_app
from entrypoints.settings import Settings
from tests.e2e.flows import bearer, new_email, sign_up
from tests.e2e.tenancy_flows import (
    Client,
    assert_error,
    current_tenant,
    emailed_invite_link,
    invite,
    members,
    token_in,
)
from tests.support.mailbox import Mailbox

INTERNAL_KEY = "internal-key-for-the-tenancy-e2e-tests-0123456789"
ALL_SCOPES = ["chat:write", "agents:read", "agents:write", "leads:read", "usage:read"]


@pytest.fixture(scope="module")
async def internal_client(e2e_settings: Settings) -> AsyncIterator[Client]:
    settings = e2e_settings.with_overrides(internal_api_keys=(INTERNAL_KEY,))
    async with AsyncTestClient(app=create_app(settings)) as test_client:
        yield test_client


@dataclass
class TenantA:
    """Ann's tenant with Bob as a member and a pending invitation for Carol."""

    id: str
    name: str
    ann: str
    bob_email: str
    carol_email: str
    carol_token: str

    def secrets(self) -> list[str]:
        return [self.id, self.name, self.bob_email, self.carol_email, self.carol_token]


async def tenant_a(client: Client, mailbox: Mailbox) -> TenantA:
    _, ann = await sign_up(client, mailbox)
    renamed = await client.put(
        "/account/v1/tenant/name", json={"name": "Tenant A secret"}, headers=bearer(ann)
    )
    assert renamed.status_code == 200, renamed.text
    bob_email, carol_email = new_email(), new_email()
    await invite(client, ann, (bob_email, "normal"), (carol_email, "admin"))
    bob_link = await emailed_invite_link(mailbox, bob_email)
    joined = await client.post(
        "/account/v1/invites/accept",
        json={
            "email": bob_email,
            "password": "bob's good password",
            "invite_token": token_in(bob_link),
        },
    )
    assert joined.status_code == 200, joined.text
    carol_link = await emailed_invite_link(mailbox, carol_email)
    tenant = await current_tenant(client, ann)
    return TenantA(tenant["id"], tenant["name"], ann, bob_email, carol_email, token_in(carol_link))


def assert_refused(response: Any, a: TenantA, allowed: tuple[int, ...] = (7, 5)) -> None:
    assert response.status_code in {7: 403, 5: 404, 16: 401}.values(), response.text
    assert response.json()["code"] in allowed, response.text
    for secret in a.secrets():
        assert secret not in response.text


async def test_a_user_of_another_tenant_gets_nothing_of_it(
    client: Client, mailbox: Mailbox
) -> None:
    a = await tenant_a(client, mailbox)
    eve_email, eve = await sign_up(client, mailbox)
    eve_tenant = await current_tenant(client, eve)
    headers = bearer(eve)

    listed = await client.get("/account/v1/user/tenants", headers=headers)
    assert [t["id"] for t in listed.json()["tenants"]] == [eve_tenant["id"]]
    assert (await current_tenant(client, eve))["id"] == eve_tenant["id"]
    assert list(await members(client, eve)) == [eve_email]
    assert_refused(
        await client.post(
            "/account/v1/user/tenants/switch", json={"tenant_id": a.id}, headers=headers
        ),
        a,
        (7,),
    )
    for path in ("/account/v1/tenant/members/delete", "/account/v1/tenant/members/role"):
        for email in (a.bob_email, a.carol_email):
            response = await client.post(
                path, json={"email": email, "role": "admin"}, headers=headers
            )
            assert_refused(response, a)
    rename = await client.put("/account/v1/tenant/name", json={"name": "Eve's"}, headers=headers)
    assert rename.status_code == 200
    assert_refused(
        await client.post(
            "/account/v1/invites/accept",
            json={"email": eve_email, "password": "whatever it is", "invite_token": a.carol_token},
        ),
        a,
        (7,),
    )
    assert_refused(
        await client.post(
            "/account/v1/invites/accept",
            json={
                "email": a.carol_email,
                "password": "carol's new password",
                "tenant_id": eve_tenant["id"],
                "invite_token": a.carol_token,
            },
        ),
        a,
        (7,),
    )
    assert_refused(
        await client.post(
            f"/account/internal/v1/tenants/{a.id}/members/invite",
            json={"emails": [eve_email], "role": "owner"},
            headers=headers,
        ),
        a,
        (16,),
    )

    # Tenant A is untouched: same name, same members, Carol's link still works.
    after = await members(client, a.ann)
    assert (after[a.bob_email]["role"], after[a.carol_email]["status"]) == ("normal", "pending")
    assert eve_email not in after
    assert (await current_tenant(client, a.ann))["name"] == a.name
    check = await client.post("/account/v1/invites/check", json={"invite_token": a.carol_token})
    assert check.status_code == 200, check.text


async def test_an_api_key_gets_16_on_every_tenancy_endpoint(
    client: Client, mailbox: Mailbox
) -> None:
    a = await tenant_a(client, mailbox)
    _, eve = await sign_up(client, mailbox)
    own_tenant = await current_tenant(client, eve)
    created = await client.post(
        "/account/v1/tenant/api-keys",
        json={"name": "integration", "scopes": ALL_SCOPES},
        headers=bearer(eve),
    )
    assert created.status_code == 200, created.text
    key = bearer(created.json()["secret"])

    calls = [
        client.get("/account/v1/user/tenants", headers=key),
        client.get("/account/v1/user/tenants/current", headers=key),
        client.post("/account/v1/user/tenants/switch", json={"tenant_id": a.id}, headers=key),
        client.post(
            "/account/v1/user/tenants/switch", json={"tenant_id": own_tenant["id"]}, headers=key
        ),
        client.post("/account/v1/user/tenants", json={"name": "By key"}, headers=key),
        client.put("/account/v1/tenant/name", json={"name": "By key"}, headers=key),
        client.get("/account/v1/tenant/members", headers=key),
        client.post(
            "/account/v1/tenant/members/invite",
            json={"members": [{"email": new_email(), "role": "normal"}]},
            headers=key,
        ),
        client.post("/account/v1/tenant/members/delete", json={"email": a.bob_email}, headers=key),
        client.post(
            "/account/v1/tenant/members/role",
            json={"email": a.bob_email, "role": "admin"},
            headers=key,
        ),
    ]
    # People's operations: a key is the wrong kind of credential there (§1.2), any scope.
    for call in calls:
        response = await call
        assert_error(response, 401, 16)
        assert_refused(response, a, (16,))
    internal = await client.post(
        f"/account/internal/v1/tenants/{a.id}/members/invite",
        json={"emails": [new_email()]},
        headers=key,
    )
    assert_refused(internal, a, (16,))
    assert (await current_tenant(client, eve))["name"] == own_tenant["name"]


async def test_internal_invites_into_any_named_tenant(
    internal_client: Client, mailbox: Mailbox
) -> None:
    a = await tenant_a(internal_client, mailbox)
    operator = bearer(INTERNAL_KEY)
    email = new_email()

    invited = await internal_client.post(
        f"/account/internal/v1/tenants/{a.id}/members/invite",
        json={"emails": [email, "broken", a.bob_email], "role": "owner"},
        headers=operator,
    )

    assert invited.status_code == 200, invited.text
    results = invited.json()["invitation_results"]
    assert [(r["email"], r["status"]) for r in results] == [
        (email, "success"),
        ("broken", "failed"),
        (a.bob_email, "duplicate"),
    ]
    assert await emailed_invite_link(mailbox, email) == results[0]["invite_url"]
    pending = (await members(internal_client, a.ann))[email]
    assert (pending["status"], pending["role"]) == ("pending", "owner")

    unknown = await internal_client.post(
        "/account/internal/v1/tenants/no-such-tenant/members/invite",
        json={"emails": [new_email()]},
        headers=operator,
    )
    assert_error(unknown, 404, 5)
    too_many = await internal_client.post(
        f"/account/internal/v1/tenants/{a.id}/members/invite",
        json={"emails": [f"p{n}@example.com" for n in range(51)]},
        headers=operator,
    )
    assert_error(too_many, 400, 3)
    assert too_many.json()["message"].startswith("emails")
    for headers in ({}, bearer("not-the-internal-key"), bearer(a.ann)):
        refused = await internal_client.post(
            f"/account/internal/v1/tenants/{a.id}/members/invite",
            json={"emails": [new_email()]},
            headers=headers,
        )
        assert_error(refused, 401, 16)
    # The internal key is the wrong kind for the tenant endpoints: it names no tenant.
    assert_error(await internal_client.get("/account/v1/tenant/members", headers=operator), 401, 16)
