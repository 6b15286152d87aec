"""Rules carried by the identity entities: session lifetime, challenges, first password."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.errors import FailedPrecondition
from tests.fakes.clock import DEFAULT_START
from tests.fakes.factories import make_challenge, make_session, make_user

T0 = DEFAULT_START


def test_session_is_alive_until_seven_idle_days() -> None:
    session = make_session(created_at=T0, last_refreshed_at=T0)
    assert session.is_alive(T0 + timedelta(days=7) - timedelta(seconds=1))
    assert not session.is_alive(T0 + timedelta(days=7))


def test_refreshing_keeps_a_session_alive_but_never_past_thirty_days() -> None:
    session = make_session(created_at=T0, last_refreshed_at=T0)
    for day in range(6, 30, 6):
        session.refresh(T0 + timedelta(days=day))
    assert session.is_alive(T0 + timedelta(days=30) - timedelta(seconds=1))
    assert not session.is_alive(T0 + timedelta(days=30))
    assert session.absolute_expiry() == T0 + timedelta(days=30)


def test_revoked_session_is_dead_and_keeps_its_first_revocation_time() -> None:
    session = make_session(created_at=T0, last_refreshed_at=T0)
    session.revoke(T0 + timedelta(minutes=1))
    session.revoke(T0 + timedelta(minutes=2))
    assert not session.is_alive(T0 + timedelta(minutes=3))
    assert session.revoked_at == T0 + timedelta(minutes=1)


def test_challenge_expires_after_ten_minutes() -> None:
    challenge = make_challenge(created_at=T0)
    assert challenge.is_usable(T0 + timedelta(minutes=10) - timedelta(seconds=1))
    assert not challenge.is_usable(T0 + timedelta(minutes=10))


def test_fifth_try_kills_the_challenge() -> None:
    assert make_challenge(created_at=T0, attempts=4).is_usable(T0)
    assert not make_challenge(created_at=T0, attempts=5).is_usable(T0)


def test_consumed_challenge_is_dead() -> None:
    assert not make_challenge(created_at=T0, consumed_at=T0).is_usable(T0)


def test_user_initializes_once() -> None:
    user = make_user(is_initialized=False)
    user.initialize("hash", "Europe/Paris", T0)
    assert user.is_initialized
    assert user.password_hash == "hash"
    assert user.auth_providers == ["password"]
    with pytest.raises(FailedPrecondition):
        user.initialize("other", "UTC", T0)


def test_setting_a_password_twice_lists_the_provider_once() -> None:
    user = make_user()
    user.set_password("a", T0)
    user.set_password("b", T0 + timedelta(seconds=1))
    assert user.auth_providers == ["password"]
    assert user.updated_at == T0 + timedelta(seconds=1)
