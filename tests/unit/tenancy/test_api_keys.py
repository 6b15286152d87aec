"""CreateApiKey, ListApiKeys and DeleteApiKey on the in-memory unit of work."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from application.common.caller import Caller
from application.tenancy.api_key_commands import (
    CreateApiKeyCommand,
    DeleteApiKeyCommand,
    ListApiKeysCommand,
)
from domain.errors import InvalidArgument, NotFound, PermissionDenied, Unauthenticated
from domain.tenancy.models import Role
from domain.tenancy.policy import Scope
from tests.fakes.api_keys import ApiKeyKit, owner_kit, rfc3339
from tests.fakes.factories import make_user

# -- create ------------------------------------------------------------------------------------


async def test_create_returns_the_full_credential_once_and_stores_only_its_hash() -> None:
    kit, owner, tenant_id = await owner_kit()
    created = await kit.new_key(owner, name="  Zapier  ", scopes=["leads:read", "chat:write"])

    assert created.secret == "sk_live_key-1_token-1"
    assert created.api_key.id == "key-1"
    assert created.api_key.prefix == "sk_live_key-1_"
    assert created.api_key.name == "Zapier"
    assert created.api_key.scopes == ["chat:write", "leads:read"]
    assert created.api_key.created_at == kit.clock.now()
    assert created.api_key.expires_at is None
    assert created.api_key.last_used_at is None
    stored = kit.store.api_keys["key-1"]
    assert stored.tenant_id == tenant_id
    assert stored.created_by == owner.user_id
    assert stored.secret_hash == kit.hasher.hash("token-1")
    assert "token-1" not in repr(stored)


async def test_admins_may_create_keys() -> None:
    kit, _, tenant_id = await owner_kit()
    admin, _ = await kit.member(Role.ADMIN, tenant_id)
    created = await kit.new_key(admin)
    assert kit.store.api_keys[created.api_key.id].tenant_id == tenant_id


async def test_normal_members_may_not_create_keys() -> None:
    kit, _, tenant_id = await owner_kit()
    normal, _ = await kit.member(Role.NORMAL, tenant_id)
    with pytest.raises(PermissionDenied):
        await kit.new_key(normal)
    assert kit.store.api_keys == {}


@pytest.mark.parametrize(
    "caller",
    [
        Caller.api_key("tenant", "key", frozenset(Scope)),
        Caller.internal(),
    ],
    ids=["api-key-with-every-scope", "internal"],
)
async def test_keys_and_internal_callers_may_not_manage_keys(caller: Caller) -> None:
    kit = ApiKeyKit()
    # Keys are managed by people: any other credential is the wrong kind (§1.2).
    with pytest.raises(Unauthenticated):
        await kit.new_key(caller)
    with pytest.raises(Unauthenticated):
        await kit.list(ListApiKeysCommand(caller))
    with pytest.raises(Unauthenticated):
        await kit.delete(DeleteApiKeyCommand(caller, "key"))


async def test_a_user_without_a_current_tenant_may_not_create_keys() -> None:
    kit = ApiKeyKit()
    async with kit.uow_factory() as uow:
        user = make_user(current_tenant_id="")
        await uow.users.add(user)
        await uow.commit()
    with pytest.raises(PermissionDenied):
        await kit.new_key(Caller.token(user.id, "session"))


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
async def test_create_refuses_an_empty_or_long_name(name: str) -> None:
    kit, owner, _ = await owner_kit()
    with pytest.raises(InvalidArgument) as error:
        await kit.new_key(owner, name=name)
    assert error.value.field == "name"


async def test_create_accepts_a_name_of_100_characters() -> None:
    kit, owner, _ = await owner_kit()
    created = await kit.new_key(owner, name="x" * 100)
    assert created.api_key.name == "x" * 100


@pytest.mark.parametrize("scopes", [[], ["chat:read"], ["chat:write", "admin"]])
async def test_create_refuses_missing_or_unknown_scopes(scopes: list[str]) -> None:
    kit, owner, _ = await owner_kit()
    with pytest.raises(InvalidArgument) as error:
        await kit.create(CreateApiKeyCommand(owner, "Zapier", scopes))
    assert error.value.field == "scopes"


async def test_create_keeps_each_scope_once() -> None:
    kit, owner, _ = await owner_kit()
    created = await kit.new_key(owner, scopes=["usage:read", "usage:read", " agents:read "])
    assert created.api_key.scopes == ["agents:read", "usage:read"]


@pytest.mark.parametrize(
    "expires_at",
    ["tomorrow", "2026-13-01T00:00:00Z", "2027-01-01T00:00:00", "2025-12-31T00:00:00Z"],
    ids=["not-a-date", "bad-month", "no-zone", "in-the-past"],
)
async def test_create_refuses_an_invalid_or_past_expiry(expires_at: str) -> None:
    kit, owner, _ = await owner_kit()
    with pytest.raises(InvalidArgument) as error:
        await kit.new_key(owner, expires_at=expires_at)
    assert error.value.field == "expires_at"


async def test_create_refuses_an_expiry_equal_to_now() -> None:
    kit, owner, _ = await owner_kit()
    with pytest.raises(InvalidArgument):
        await kit.new_key(owner, expires_at=rfc3339(kit.clock.now()))


async def test_create_stores_the_expiry_in_utc() -> None:
    kit, owner, _ = await owner_kit()
    created = await kit.new_key(owner, expires_at="2026-06-01T12:00:00+02:00")
    assert created.api_key.expires_at == datetime(2026, 6, 1, 10, 0, tzinfo=UTC)


# -- list and delete ---------------------------------------------------------------------------


async def test_list_shows_only_the_callers_tenants_keys_oldest_first() -> None:
    kit, owner, _ = await owner_kit()
    other_owner, _ = await kit.member(Role.OWNER)
    first = await kit.new_key(owner, name="first")
    kit.clock.advance(minutes=1)
    second = await kit.new_key(owner, name="second")
    await kit.new_key(other_owner, name="theirs")

    listed = await kit.list(ListApiKeysCommand(owner))

    assert [key.id for key in listed] == [first.api_key.id, second.api_key.id]
    assert all(not hasattr(key, "secret") and not hasattr(key, "secret_hash") for key in listed)


async def test_normal_members_may_not_list_keys() -> None:
    kit, _, tenant_id = await owner_kit()
    normal, _ = await kit.member(Role.NORMAL, tenant_id)
    with pytest.raises(PermissionDenied):
        await kit.list(ListApiKeysCommand(normal))


async def test_delete_removes_the_key() -> None:
    kit, owner, _ = await owner_kit()
    created = await kit.new_key(owner)
    await kit.delete(DeleteApiKeyCommand(owner, created.api_key.id))
    assert kit.store.api_keys == {}
    assert await kit.list(ListApiKeysCommand(owner)) == []


async def test_deleting_another_tenants_key_is_not_found_and_keeps_it() -> None:
    kit, owner, _ = await owner_kit()
    stranger, _ = await kit.member(Role.OWNER)
    created = await kit.new_key(owner)
    with pytest.raises(NotFound):
        await kit.delete(DeleteApiKeyCommand(stranger, created.api_key.id))
    assert created.api_key.id in kit.store.api_keys


async def test_deleting_an_unknown_key_is_not_found() -> None:
    kit, owner, _ = await owner_kit()
    with pytest.raises(NotFound):
        await kit.delete(DeleteApiKeyCommand(owner, "missing"))
