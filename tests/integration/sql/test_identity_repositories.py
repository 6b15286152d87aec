"""User, session and challenge repositories round-trip domain objects on both databases."""

from __future__ import annotations

import asyncio
from datetime import UTC, timedelta, timezone

import pytest

from adapters.sql.uow import SqlUnitOfWorkFactory
from domain.errors import AlreadyExists
from domain.identity.models import ChallengePurpose
from tests.integration.sql.factories import (
    make_challenge,
    make_membership,
    make_session,
    make_tenant,
    make_user,
    utc_now,
)


async def test_user_round_trips_with_aware_utc_datetimes(uow_factory: SqlUnitOfWorkFactory) -> None:
    user = make_user(
        password_hash="argon2-hash",
        avatar_url="https://cdn.example.com/a.png",
        timezone="Europe/Paris",
        is_initialized=True,
        email_verified=True,
        current_tenant_id="tenant-1",
        auth_providers=["password", "google"],
    )
    async with uow_factory() as uow:
        await uow.users.add(user)
        await uow.commit()

    async with uow_factory() as uow:
        by_id = await uow.users.get(user.id)
        by_email = await uow.users.get_by_email(user.email)

    assert by_id == user
    assert by_email == user
    assert by_id is not None
    assert by_id.created_at.utcoffset() == timedelta(0)


async def test_non_utc_datetimes_are_stored_as_the_same_instant(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    plus_five = timezone(timedelta(hours=5))
    instant = utc_now().astimezone(plus_five)
    user = make_user(created_at=instant, updated_at=instant)
    async with uow_factory() as uow:
        await uow.users.add(user)
        await uow.commit()

    async with uow_factory() as uow:
        loaded = await uow.users.get(user.id)

    assert loaded is not None
    assert loaded.created_at == instant
    assert loaded.created_at.tzinfo is not None
    assert loaded.created_at.astimezone(UTC).utcoffset() == timedelta(0)


async def test_missing_user_reads_as_none(uow_factory: SqlUnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        assert await uow.users.get("no-such-user") is None
        assert await uow.users.get_by_email("nobody@example.com") is None


async def test_adding_a_taken_email_raises_already_exists(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    first = make_user()
    async with uow_factory() as uow:
        await uow.users.add(first)
        await uow.commit()

    async with uow_factory() as uow:
        with pytest.raises(AlreadyExists, match="email already registered"):
            await uow.users.add(make_user(email=first.email))


async def test_the_unique_constraint_decides_between_two_racing_registrations(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    email = make_user().email
    async with uow_factory() as first, uow_factory() as second:
        await first.users.add(make_user(email=email))
        # The second insert waits on the first transaction's lock, then sees its commit.
        racing = asyncio.create_task(second.users.add(make_user(email=email)))
        await asyncio.sleep(0.05)
        await first.commit()
        with pytest.raises(AlreadyExists):
            await racing

    async with uow_factory() as uow:
        assert await uow.users.get_by_email(email) is not None


async def test_update_persists_changed_fields(uow_factory: SqlUnitOfWorkFactory) -> None:
    user = make_user()
    async with uow_factory() as uow:
        await uow.users.add(user)
        await uow.commit()

    later = utc_now() + timedelta(minutes=1)
    async with uow_factory() as uow:
        loaded = await uow.users.get(user.id)
        assert loaded is not None
        loaded.initialize("new-hash", "Asia/Tokyo", later)
        loaded.rename("Grace", later)
        await uow.users.update(loaded)
        await uow.commit()

    async with uow_factory() as uow:
        reloaded = await uow.users.get(user.id)
    assert reloaded is not None
    assert reloaded.name == "Grace"
    assert reloaded.password_hash == "new-hash"
    assert reloaded.auth_providers == ["password"]
    assert reloaded.is_initialized
    assert reloaded.updated_at == later


async def test_changing_email_to_a_taken_one_raises_already_exists(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    taken, other = make_user(), make_user()
    async with uow_factory() as uow:
        await uow.users.add(taken)
        await uow.users.add(other)
        await uow.commit()

    async with uow_factory() as uow:
        other.email = taken.email
        with pytest.raises(AlreadyExists):
            await uow.users.update(other)


async def test_deleting_a_user_deletes_their_sessions_and_memberships(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    user, tenant = make_user(), make_tenant()
    session = make_session(user.id)
    async with uow_factory() as uow:
        await uow.users.add(user)
        await uow.tenants.add(tenant)
        await uow.sessions.add(session)
        await uow.memberships.add(make_membership(tenant.id, user.id))
        await uow.commit()

    async with uow_factory() as uow:
        await uow.users.delete(user.id)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.users.get(user.id) is None
        assert await uow.sessions.get(session.id) is None
        assert await uow.memberships.list_for_user(user.id) == []
        assert await uow.tenants.get(tenant.id) == tenant


async def test_session_round_trips_and_updates(uow_factory: SqlUnitOfWorkFactory) -> None:
    user = make_user()
    session = make_session(user.id)
    async with uow_factory() as uow:
        await uow.users.add(user)
        await uow.sessions.add(session)
        await uow.commit()

    later = utc_now() + timedelta(hours=1)
    async with uow_factory() as uow:
        loaded = await uow.sessions.get(session.id)
        assert loaded == session
        assert loaded is not None
        loaded.refresh(later)
        loaded.revoke(later)
        await uow.sessions.update(loaded)
        await uow.commit()

    async with uow_factory() as uow:
        reloaded = await uow.sessions.get(session.id)
    assert reloaded is not None
    assert reloaded.last_refreshed_at == later
    assert reloaded.revoked_at == later


async def test_revoke_all_for_user_spares_the_excepted_and_already_revoked_sessions(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    user, stranger = make_user(), make_user()
    now = utc_now()
    kept = make_session(user.id)
    revoked_before = make_session(user.id, revoked_at=now - timedelta(days=1))
    live = [make_session(user.id), make_session(user.id)]
    strangers = make_session(stranger.id)
    async with uow_factory() as uow:
        await uow.users.add(user)
        await uow.users.add(stranger)
        for session in [kept, revoked_before, *live, strangers]:
            await uow.sessions.add(session)
        await uow.commit()

    async with uow_factory() as uow:
        revoked = await uow.sessions.revoke_all_for_user(user.id, now, except_id=kept.id)
        await uow.commit()

    assert sorted(revoked) == sorted(session.id for session in live)
    async with uow_factory() as uow:
        for session in live:
            loaded = await uow.sessions.get(session.id)
            assert loaded is not None
            assert loaded.revoked_at == now
        kept_loaded = await uow.sessions.get(kept.id)
        before_loaded = await uow.sessions.get(revoked_before.id)
        strangers_loaded = await uow.sessions.get(strangers.id)
    assert kept_loaded is not None
    assert kept_loaded.revoked_at is None
    assert before_loaded is not None
    assert before_loaded.revoked_at == now - timedelta(days=1)
    assert strangers_loaded is not None
    assert strangers_loaded.revoked_at is None


async def test_challenge_round_trips_by_token_hash_and_records_attempts(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    challenge = make_challenge(purpose=ChallengePurpose.FORGOT_PASSWORD)
    async with uow_factory() as uow:
        await uow.challenges.add(challenge)
        await uow.commit()

    now = utc_now()
    async with uow_factory() as uow:
        loaded = await uow.challenges.get_by_token_hash(challenge.token_hash)
        assert loaded == challenge
        assert loaded is not None
        assert await uow.challenges.count_attempt(challenge.id, now, 5)
        assert await uow.challenges.consume(challenge.id, now)
        # Used: no further try is counted and it cannot be used again.
        assert not await uow.challenges.count_attempt(challenge.id, now, 5)
        assert not await uow.challenges.consume(challenge.id, now)
        await uow.commit()

    async with uow_factory() as uow:
        reloaded = await uow.challenges.get_by_token_hash(challenge.token_hash)
        assert await uow.challenges.get_by_token_hash("unknown") is None
    assert reloaded is not None
    assert reloaded.purpose is ChallengePurpose.FORGOT_PASSWORD
    assert reloaded.attempts == 1
    assert reloaded.consumed_at == now


async def test_reset_token_challenge_without_code_round_trips(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    challenge = make_challenge(purpose=ChallengePurpose.PASSWORD_RESET, code_hash=None)
    async with uow_factory() as uow:
        await uow.challenges.add(challenge)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.challenges.get_by_token_hash(challenge.token_hash) == challenge
