"""AuthenticateApiKey: the per-request check, its one-second cache and `last_used_at`."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from adapters.memory.uow import InMemoryUnitOfWork, InMemoryUnitOfWorkFactory
from application.common.caller import CredentialKind
from application.tenancy.api_key_commands import DeleteApiKeyCommand, ListApiKeysCommand
from application.tenancy.api_keys import AuthenticateApiKey
from domain.errors import Unauthenticated
from domain.tenancy.policy import Scope
from tests.fakes.api_keys import owner_kit, rfc3339

# -- authenticate ------------------------------------------------------------------------------


async def test_a_valid_key_authenticates_as_its_tenant_with_its_scopes() -> None:
    kit, owner, tenant_id = await owner_kit()
    created = await kit.new_key(owner, scopes=["agents:read", "chat:write"])

    caller = await kit.authenticate(created.secret)

    assert caller.kind is CredentialKind.API_KEY
    assert caller.tenant_id == tenant_id
    assert caller.api_key_id == created.api_key.id
    assert caller.scopes == frozenset({Scope.AGENTS_READ, Scope.CHAT_WRITE})
    assert caller.user_id == ""
    await kit.authenticate.wait_for_touches()


@pytest.mark.parametrize(
    "credential",
    [
        "sk_live_",
        "sk_live_key-1",
        "sk_live_key-1_",
        "sk_live__token-1",
        "sk_test_key-1_token-1",
        "sk_live_key-1_token-2",
        "sk_live_key-2_token-1",
    ],
)
async def test_malformed_unknown_or_wrong_secret_keys_are_unauthenticated(
    credential: str,
) -> None:
    kit, owner, _ = await owner_kit()
    await kit.new_key(owner)
    with pytest.raises(Unauthenticated):
        await kit.authenticate(credential)


async def test_secrets_containing_underscores_authenticate() -> None:
    kit, owner, _ = await owner_kit()
    kit.secrets.token = lambda: "a_b_c"  # type: ignore[method-assign]
    created = await kit.new_key(owner)
    assert created.secret == "sk_live_key-1_a_b_c"
    assert (await kit.authenticate(created.secret)).api_key_id == "key-1"
    await kit.authenticate.wait_for_touches()


async def test_an_expired_key_is_refused_from_its_expiry_on_even_when_cached() -> None:
    kit, owner, _ = await owner_kit()
    expiry = kit.clock.now() + timedelta(hours=1)
    created = await kit.new_key(owner, expires_at=rfc3339(expiry))
    await kit.authenticate(created.secret)  # now cached

    kit.clock.set(expiry - timedelta(milliseconds=1))
    await kit.authenticate(created.secret)
    kit.clock.set(expiry)
    with pytest.raises(Unauthenticated):
        await kit.authenticate(created.secret)
    await kit.authenticate.wait_for_touches()


async def test_a_key_deleted_through_this_process_is_refused_at_once() -> None:
    kit, owner, _ = await owner_kit()
    created = await kit.new_key(owner)
    await kit.authenticate(created.secret)  # now cached

    await kit.delete(DeleteApiKeyCommand(owner, created.api_key.id))

    with pytest.raises(Unauthenticated):
        await kit.authenticate(created.secret)
    await kit.authenticate.wait_for_touches()


async def test_a_key_deleted_elsewhere_is_refused_once_the_cache_second_is_over() -> None:
    kit, owner, tenant_id = await owner_kit()
    created = await kit.new_key(owner)
    await kit.authenticate(created.secret)  # now cached

    # Another replica deletes the key: this process's cache does not hear of it.
    async with kit.uow_factory() as uow:
        await uow.api_keys.delete(tenant_id, created.api_key.id)
        await uow.commit()
    kit.monotonic.now += 0.5
    assert (await kit.authenticate(created.secret)).api_key_id == created.api_key.id
    kit.monotonic.now += 0.5
    with pytest.raises(Unauthenticated):
        await kit.authenticate(created.secret)
    await kit.authenticate.wait_for_touches()


async def test_a_wrong_secret_is_refused_even_when_the_key_is_cached() -> None:
    kit, owner, _ = await owner_kit()
    created = await kit.new_key(owner)
    await kit.authenticate(created.secret)
    with pytest.raises(Unauthenticated):
        await kit.authenticate(created.secret + "x")
    await kit.authenticate.wait_for_touches()


async def test_last_used_at_is_written_at_most_once_a_minute() -> None:
    kit, owner, _ = await owner_kit()
    created = await kit.new_key(owner)
    key_id = created.api_key.id
    first_use = kit.clock.advance(seconds=5)

    await kit.authenticate(created.secret)
    await kit.authenticate.wait_for_touches()
    assert kit.store.api_keys[key_id].last_used_at == first_use

    kit.clock.advance(seconds=59)
    await kit.authenticate(created.secret)
    await kit.authenticate.wait_for_touches()
    assert kit.store.api_keys[key_id].last_used_at == first_use

    later_use = kit.clock.advance(seconds=1)
    await kit.authenticate(created.secret)
    await kit.authenticate.wait_for_touches()
    assert kit.store.api_keys[key_id].last_used_at == later_use
    listed = await kit.list(ListApiKeysCommand(owner))
    assert listed[0].last_used_at == later_use


class BrokenTouchUnitOfWork(InMemoryUnitOfWork):
    async def commit(self) -> None:
        raise RuntimeError("database went away")


class BrokenTouchFactory(InMemoryUnitOfWorkFactory):
    """Reads work; every write fails at its commit."""

    def __call__(self) -> InMemoryUnitOfWork:
        return BrokenTouchUnitOfWork(self.store)


async def test_a_failed_last_used_write_is_logged_and_does_not_fail_the_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    kit, owner, _ = await owner_kit()
    created = await kit.new_key(owner)
    authenticate = AuthenticateApiKey(
        BrokenTouchFactory(kit.store), kit.hasher, kit.cache, kit.clock
    )

    with caplog.at_level(logging.ERROR, logger="astra"):
        caller = await authenticate(created.secret)
        await authenticate.wait_for_touches()

    assert caller.api_key_id == created.api_key.id
    assert kit.store.api_keys[created.api_key.id].last_used_at is None
    failures = [r for r in caplog.records if "could not record the use" in r.getMessage()]
    assert len(failures) == 1
    assert failures[0].exc_info is not None
