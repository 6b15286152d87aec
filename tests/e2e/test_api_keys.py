"""API keys over HTTP: create, list, use, delete, and who may do which."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from litestar.testing import AsyncTestClient

from adapters.sql.engine import create_engine, create_sessionmaker
from adapters.sql.uow import SqlUnitOfWorkFactory
from domain.tenancy.models import Membership, Role
from tests.e2e.flows import bearer, sign_up
from tests.support.mailbox import Mailbox
from tests.support.waiting import eventually

Client = AsyncTestClient[Any]
KEYS = "/account/v1/tenant/api-keys"
MEMBERS = "/account/v1/tenant/members"


async def current_tenant(client: Client, token: str) -> str:
    me = await client.get("/account/v1/user", headers=bearer(token))
    assert me.status_code == 200, me.text
    tenant_id: str = me.json()["user"]["current_tenant_id"]
    return tenant_id


async def join_as(
    database_url: str, client: Client, token: str, tenant_id: str, role: Role
) -> None:
    """Make the token's user a `role` member of `tenant_id` and switch them into it."""
    me = (await client.get("/account/v1/user", headers=bearer(token))).json()["user"]
    engine = create_engine(database_url)
    try:
        async with SqlUnitOfWorkFactory(create_sessionmaker(engine))() as uow:
            await uow.memberships.add(
                Membership(tenant_id, me["id"], role, created_at=datetime.now(UTC))
            )
            user = await uow.users.get(me["id"])
            assert user is not None
            user.current_tenant_id = tenant_id
            await uow.users.update(user)
            await uow.commit()
    finally:
        await engine.dispose()


async def create_key(client: Client, token: str, **body: Any) -> dict[str, Any]:
    payload = {"name": "Zapier", "scopes": ["chat:write"]} | body
    created = await client.post(KEYS, json=payload, headers=bearer(token))
    assert created.status_code == 200, created.text
    result: dict[str, Any] = created.json()
    return result


async def test_owner_creates_lists_uses_and_deletes_a_key(client: Client, mailbox: Mailbox) -> None:
    _, token = await sign_up(client, mailbox)
    created = await create_key(
        client, token, name=" CRM sync ", scopes=["leads:read", "agents:read"]
    )
    key = created["api_key"]
    secret = created["secret"]
    assert set(key) == {
        "id",
        "name",
        "prefix",
        "scopes",
        "created_at",
        "expires_at",
        "last_used_at",
    }
    assert key["name"] == "CRM sync"
    assert key["prefix"] == f"sk_live_{key['id']}_"
    assert secret.startswith(key["prefix"])
    assert len(secret) > len(key["prefix"]) + 20
    assert key["scopes"] == ["agents:read", "leads:read"]
    assert key["created_at"].endswith("Z")
    assert key["expires_at"] == ""
    assert key["last_used_at"] == ""

    listed = await client.get(KEYS, headers=bearer(token))
    assert listed.status_code == 200
    assert listed.json() == {"api_keys": [key]}
    assert secret[len(key["prefix"]) :] not in listed.text

    # Members and keys are people's business: a key there is the wrong kind (16, §1.2).
    for path in (MEMBERS, KEYS):
        used = await client.get(path, headers=bearer(secret))
        assert used.status_code == 401, used.text
        assert used.json()["code"] == 16
    deleted = await client.delete(f"{KEYS}/{key['id']}", headers=bearer(token))
    assert deleted.status_code == 200
    assert deleted.json() == {}

    for path in (MEMBERS, KEYS):
        refused = await client.get(path, headers=bearer(secret))
        assert refused.status_code == 401, refused.text
        assert refused.json()["code"] == 16
    assert (await client.get(KEYS, headers=bearer(token))).json() == {"api_keys": []}
    again = await client.delete(f"{KEYS}/{key['id']}", headers=bearer(token))
    assert again.status_code == 404
    assert again.json()["code"] == 5


async def test_using_a_key_records_when_it_was_last_used(client: Client, mailbox: Mailbox) -> None:
    _, token = await sign_up(client, mailbox)
    created = await create_key(client, token)
    await client.get(MEMBERS, headers=bearer(created["secret"]))
    last_used = ""

    async def recorded() -> bool:  # written in the background, right after the request
        nonlocal last_used
        listed = (await client.get(KEYS, headers=bearer(token))).json()["api_keys"]
        last_used = listed[0]["last_used_at"] or ""
        return bool(last_used)

    await eventually(recorded, "the key's last use being recorded")
    assert last_used.endswith("Z")


async def test_wrong_malformed_and_missing_keys_are_unauthenticated(
    client: Client, mailbox: Mailbox
) -> None:
    _, token = await sign_up(client, mailbox)
    secret = (await create_key(client, token))["secret"]
    for credential in (secret + "x", secret[:-1], "sk_live_", "sk_live_nothing", "sk_live_a_b"):
        refused = await client.get(MEMBERS, headers=bearer(credential))
        assert refused.status_code == 401, credential
        assert refused.json()["code"] == 16
    missing = await client.get(KEYS)
    assert missing.status_code == 401
    assert missing.json()["code"] == 16


async def test_create_validates_name_scopes_and_expiry(client: Client, mailbox: Mailbox) -> None:
    _, token = await sign_up(client, mailbox)
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    for body, field in (
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"scopes": []}, "scopes"),
        ({"scopes": ["chat:write", "billing:write"]}, "scopes"),
        ({"expires_at": "next week"}, "expires_at"),
        ({"expires_at": past}, "expires_at"),
    ):
        payload = {"name": "Zapier", "scopes": ["chat:write"]} | body
        refused = await client.post(KEYS, json=payload, headers=bearer(token))
        assert refused.status_code == 400, body
        assert refused.json()["code"] == 3
        assert refused.json()["message"].startswith(field)

    created = await create_key(client, token, expires_at="2099-01-01T10:00:00+02:00")
    assert created["api_key"]["expires_at"] == "2099-01-01T08:00:00.000Z"


async def test_only_owners_and_admins_manage_keys(
    client: Client, mailbox: Mailbox, migrated_database_url: str
) -> None:
    _, owner = await sign_up(client, mailbox)
    tenant_id = await current_tenant(client, owner)
    key = (await create_key(client, owner))["api_key"]
    _, admin = await sign_up(client, mailbox)
    _, normal = await sign_up(client, mailbox)
    await join_as(migrated_database_url, client, admin, tenant_id, Role.ADMIN)
    await join_as(migrated_database_url, client, normal, tenant_id, Role.NORMAL)

    body = {"name": "Zapier", "scopes": ["chat:write"]}
    for attempt in (
        client.post(KEYS, json=body, headers=bearer(normal)),
        client.get(KEYS, headers=bearer(normal)),
        client.delete(f"{KEYS}/{key['id']}", headers=bearer(normal)),
    ):
        refused = await attempt
        assert refused.status_code == 403
        assert refused.json()["code"] == 7

    by_admin = await create_key(client, admin, name="admin's")
    listed = (await client.get(KEYS, headers=bearer(admin))).json()["api_keys"]
    assert [item["id"] for item in listed] == [key["id"], by_admin["api_key"]["id"]]
    deleted = await client.delete(f"{KEYS}/{key['id']}", headers=bearer(admin))
    assert deleted.status_code == 200


async def test_another_tenant_can_neither_see_nor_delete_a_key(
    client: Client, mailbox: Mailbox
) -> None:
    _, owner = await sign_up(client, mailbox)
    created = await create_key(client, owner)
    key_id = created["api_key"]["id"]
    _, stranger = await sign_up(client, mailbox)
    strangers_key = (await create_key(client, stranger, scopes=list(ALL_SCOPES)))["secret"]

    listed = await client.get(KEYS, headers=bearer(stranger))
    assert listed.status_code == 200
    assert key_id not in listed.text
    by_user = await client.delete(f"{KEYS}/{key_id}", headers=bearer(stranger))
    assert by_user.status_code == 404
    assert by_user.json()["code"] == 5
    by_key = await client.delete(f"{KEYS}/{key_id}", headers=bearer(strangers_key))
    assert by_key.status_code == 401
    assert by_key.json()["code"] == 16

    still = (await client.get(KEYS, headers=bearer(owner))).json()["api_keys"]
    assert [item["id"] for item in still] == [key_id]


ALL_SCOPES = ("chat:write", "agents:read", "agents:write", "leads:read", "usage:read")
