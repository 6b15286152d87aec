"""Tenancy over HTTP: invite → emailed link → check → accept → switch → role change → removal."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from litestar.testing import AsyncTestClient

from entrypoints.app import create_app
from entrypoints.settings import Settings
from tests.e2e.flows import DEFAULT_PASSWORD, bearer, new_email, sign_up
from tests.e2e.tenancy_flows import (
    Client,
    assert_error,
    current_tenant,
    emailed_invite_link,
    invite,
    members,
    switch,
    token_in,
)
from tests.support.mailbox import Mailbox

NEW_PASSWORD = "invited and happy 42"


async def test_invite_accept_switch_role_change_and_removal(
    client: Client, mailbox: Mailbox
) -> None:
    ann_email, ann = await sign_up(client, mailbox)
    bob_email, bob = await sign_up(client, mailbox)
    tenant = await current_tenant(client, ann)
    bob_own = await current_tenant(client, bob)
    carol_email = new_email()
    assert (tenant["role"], tenant["plan"], tenant["member_count"]) == (
        "owner",
        "NEW_USER_TRIAL",
        "1",
    )

    # Invite a new person and an existing user; each gets an email with the returned link.
    rets = await invite(client, ann, (carol_email, "normal"), (bob_email, "admin"))
    assert [(r["email"], r["status"], r["message"]) for r in rets] == [
        (carol_email, "success", ""),
        (bob_email, "success", ""),
    ]
    carol_link = await emailed_invite_link(mailbox, carol_email)
    assert carol_link == rets[0]["invite_url"]
    bob_link = await emailed_invite_link(mailbox, bob_email, count=2)  # 1st was the sign-up code
    assert bob_link == rets[1]["invite_url"]
    pending = await members(client, ann)
    assert pending[carol_email]["status"] == "pending"
    assert pending[carol_email]["role"] == "normal"
    assert pending[carol_email]["user_id"] == ""

    # The invite page checks the link, then the new person accepts with a password.
    checked = await client.post(
        "/account/v1/invites/check", json={"invite_token": token_in(carol_link)}
    )
    assert checked.status_code == 200, checked.text
    assert checked.json() == {"invite_email": carol_email, "tenant_id": tenant["id"]}
    accepted = await client.post(
        "/account/v1/invites/accept",
        json={
            "email": carol_email,
            "password": NEW_PASSWORD,
            "tenant_id": tenant["id"],
            "invite_token": token_in(carol_link),
            "from_link": carol_link,
            "country": "ES",
        },
    )
    assert accepted.status_code == 200, accepted.text
    carol = accepted.json()["token"]
    me = (await client.get("/account/v1/user", headers=bearer(carol))).json()["user"]
    assert (me["email_verified"], me["is_initialized"], me["current_tenant_id"]) == (
        True,
        True,
        tenant["id"],
    )
    login = await client.post(
        "/account/v1/auth/login", json={"email": carol_email, "password": NEW_PASSWORD}
    )
    assert login.status_code == 200, login.text
    again = await client.post(
        "/account/v1/invites/accept",
        json={"email": carol_email, "password": NEW_PASSWORD, "invite_token": token_in(carol_link)},
    )
    assert_error(again, 400, 3)
    assert "invite_token" in again.json()["message"]

    # An existing user must give their own password.
    wrong = await client.post(
        "/account/v1/invites/accept",
        json={
            "email": bob_email,
            "password": "not bob's password",
            "invite_token": token_in(bob_link),
        },
    )
    assert_error(wrong, 401, 16)
    joined = await client.post(
        "/account/v1/invites/accept",
        json={"email": bob_email, "password": DEFAULT_PASSWORD, "invite_token": token_in(bob_link)},
    )
    assert joined.status_code == 200, joined.text
    assert (await current_tenant(client, bob))["id"] == tenant["id"]

    # Switching is kept on the user: the old access token follows it.
    back = await switch(client, bob, bob_own["id"])
    assert (back["id"], back["role"]) == (bob_own["id"], "owner")
    there = await switch(client, bob, tenant["id"])
    assert (there["role"], there["member_count"]) == ("admin", "3")
    listed = await client.get("/account/v1/user/tenants", headers=bearer(bob))
    assert {t["id"]: t["role"] for t in listed.json()["tenants"]} == {
        bob_own["id"]: "owner",
        tenant["id"]: "admin",
    }

    # Role changes: the admin promotes carol to admin but may not make owners.
    promoted = await client.post(
        "/account/v1/tenant/members/role",
        json={"email": carol_email, "role": "admin"},
        headers=bearer(bob),
    )
    assert promoted.status_code == 200, promoted.text
    assert promoted.json() == {}
    assert (await members(client, ann))[carol_email]["role"] == "admin"
    to_owner = await client.post(
        "/account/v1/tenant/members/role",
        json={"email": carol_email, "role": "owner"},
        headers=bearer(bob),
    )
    assert_error(to_owner, 403, 7)
    last_owner = await client.post(
        "/account/v1/tenant/members/role",
        json={"email": ann_email, "role": "admin"},
        headers=bearer(ann),
    )
    assert_error(last_owner, 402, 9)
    remove_owner = await client.post(
        "/account/v1/tenant/members/delete", json={"email": ann_email}, headers=bearer(ann)
    )
    assert_error(remove_owner, 402, 9)

    # Removal ends access at once; carol had no other tenant, so she has none now.
    removed = await client.post(
        "/account/v1/tenant/members/delete", json={"email": carol_email}, headers=bearer(bob)
    )
    assert removed.status_code == 200, removed.text
    assert carol_email not in await members(client, ann)
    for path in ("/account/v1/user/tenants/current", "/account/v1/tenant/members"):
        assert_error(await client.get(path, headers=bearer(carol)), 403, 7)
    me = (await client.get("/account/v1/user", headers=bearer(carol))).json()["user"]
    assert me["current_tenant_id"] == ""

    # Bob, removed while in the tenant, falls back to his own.
    gone = await client.post(
        "/account/v1/tenant/members/delete", json={"email": bob_email}, headers=bearer(ann)
    )
    assert gone.status_code == 200, gone.text
    assert (await current_tenant(client, bob))["id"] == bob_own["id"]
    assert_error(
        await client.post(
            "/account/v1/user/tenants/switch", json={"tenant_id": tenant["id"]}, headers=bearer(bob)
        ),
        403,
        7,
    )


async def test_reinviting_soon_is_refused_without_an_email(
    client: Client, mailbox: Mailbox
) -> None:
    _, ann = await sign_up(client, mailbox)
    email = new_email()
    await invite(client, ann, (email, "normal"))
    await emailed_invite_link(mailbox, email, 1)
    [again] = await invite(client, ann, (email, "admin"))
    assert (again["status"], again["invite_url"]) == ("failed", ""), again


@pytest.fixture
async def no_cooldown_client(e2e_settings: Settings) -> AsyncIterator[Client]:
    settings = e2e_settings.with_overrides(reinvite_cooldown_seconds=0)
    async with AsyncTestClient(app=create_app(settings)) as test_client:
        yield test_client


async def test_reinviting_invalidates_the_first_link(
    no_cooldown_client: Client, mailbox: Mailbox
) -> None:
    client = no_cooldown_client
    _, ann = await sign_up(client, mailbox)
    email = new_email()
    await invite(client, ann, (email, "normal"))
    first = await emailed_invite_link(mailbox, email, 1)
    await invite(client, ann, (email, "admin"))
    second = await emailed_invite_link(mailbox, email, 2)
    assert first != second

    stale = await client.post("/account/v1/invites/check", json={"invite_token": token_in(first)})
    assert_error(stale, 400, 3)
    fresh = await client.post("/account/v1/invites/check", json={"invite_token": token_in(second)})
    assert fresh.status_code == 200, fresh.text
    assert (await members(client, ann))[email]["role"] == "admin"


async def test_invite_results_per_email_and_the_limit_of_fifty(
    client: Client, mailbox: Mailbox
) -> None:
    ann_email, ann = await sign_up(client, mailbox)
    fresh = new_email()
    rets = await invite(client, ann, (fresh, "normal"), ("nope", "normal"), (ann_email, "admin"))
    assert [r["status"] for r in rets] == ["success", "failed", "duplicate"]
    assert rets[1]["message"]
    assert rets[1]["invite_url"] == ""
    assert set(rets[0]) == {"email", "status", "message", "invite_url"}

    too_many = await client.post(
        "/account/v1/tenant/members/invite",
        json={"members": [{"email": f"p{n}-{fresh}", "role": "normal"} for n in range(51)]},
        headers=bearer(ann),
    )
    assert_error(too_many, 400, 3)
    assert too_many.json()["message"].startswith("members")


async def test_tenant_list_pages_and_validates_limits(client: Client, mailbox: Mailbox) -> None:
    _, ann = await sign_up(client, mailbox)
    for name in ("Second", "Third"):
        created = await client.post(
            "/account/v1/user/tenants", json={"name": name}, headers=bearer(ann)
        )
        assert created.status_code == 200, created.text
        assert created.json()["tenant"]["role"] == "owner"

    page = await client.get("/account/v1/user/tenants?page=2&limit=1", headers=bearer(ann))
    assert page.status_code == 200, page.text
    assert page.json()["page"] == {"page": "2", "limit": "1", "total": "3"}
    assert [t["name"] for t in page.json()["tenants"]] == ["Second"]
    default = (await client.get("/account/v1/user/tenants", headers=bearer(ann))).json()
    assert default["page"] == {"page": "1", "limit": "20", "total": "3"}
    tenant = default["tenants"][0]
    assert set(tenant) == {"id", "name", "role", "plan", "member_count", "created_at"}
    assert tenant["created_at"].endswith("Z")
    for query in ("limit=101", "limit=0", "page=0", "limit=abc"):
        bad = await client.get(f"/account/v1/user/tenants?{query}", headers=bearer(ann))
        assert_error(bad, 400, 3)


async def test_rename_is_for_owners_and_admins(client: Client, mailbox: Mailbox) -> None:
    _, ann = await sign_up(client, mailbox)
    renamed = await client.put(
        "/account/v1/tenant/name", json={"name": " Acme "}, headers=bearer(ann)
    )
    assert renamed.status_code == 200, renamed.text
    assert (await current_tenant(client, ann))["name"] == "Acme"
    blank = await client.put("/account/v1/tenant/name", json={"name": ""}, headers=bearer(ann))
    assert_error(blank, 400, 3)

    email = new_email()
    await invite(client, ann, (email, "normal"))
    link = await emailed_invite_link(mailbox, email)
    normal = (
        await client.post(
            "/account/v1/invites/accept",
            json={"email": email, "password": NEW_PASSWORD, "invite_token": token_in(link)},
        )
    ).json()["token"]
    refused = await client.put(
        "/account/v1/tenant/name", json={"name": "Mine"}, headers=bearer(normal)
    )
    assert_error(refused, 403, 7)
    assert (await current_tenant(client, ann))["name"] == "Acme"
