"""Login, Logout, RefreshToken and AuthenticateAccessToken."""

from __future__ import annotations

from datetime import timedelta

import pytest

from application.identity.commands import LoginCommand, LogoutCommand, RefreshTokenCommand
from domain.errors import InvalidArgument, ResourceExhausted, Unauthenticated, Unavailable
from tests.fakes.identity import IdentityKit, make_identity_kit

EMAIL = "ann@example.com"
PASSWORD = "correct horse battery"
IP = "10.0.0.1"


async def login(
    kit: IdentityKit, password: str = PASSWORD, email: str = EMAIL, ip: str = IP
) -> str:
    signed_in = await kit.login()(LoginCommand(email, password, ip))
    return signed_in.token


async def test_login_opens_a_new_session() -> None:
    kit = make_identity_kit()
    first = await kit.sign_up(EMAIL, PASSWORD)
    signed_in = await kit.login()(LoginCommand(" ANN@example.com", PASSWORD, IP))
    assert signed_in.is_initialized is True
    principal = await kit.authenticate()(signed_in.token)
    assert principal.user_id == kit.user_by_email(EMAIL).id
    assert principal.session_id != kit.session_of(first.token).id


@pytest.mark.parametrize(
    ("email", "password"),
    [(EMAIL, "wrong password"), ("nobody@example.com", PASSWORD)],
)
async def test_wrong_email_or_password_get_the_same_answer(email: str, password: str) -> None:
    kit = make_identity_kit()
    await kit.sign_up(EMAIL, PASSWORD)
    with pytest.raises(Unauthenticated) as caught:
        await login(kit, password, email=email)
    assert caught.value.message == "invalid email or password"


async def test_an_unknown_email_still_costs_a_password_verification() -> None:
    kit = make_identity_kit()
    with pytest.raises(Unauthenticated):
        await login(kit, email="nobody@example.com")
    assert kit.passwords.verify_calls == 1


async def test_the_stand_in_hash_is_computed_once_even_with_a_login_per_request() -> None:
    kit = make_identity_kit()
    for _ in range(3):
        with pytest.raises(Unauthenticated):
            await kit.login()(LoginCommand("nobody@example.com", PASSWORD, IP))
    assert kit.passwords.hash_calls == 1
    assert kit.passwords.verify_calls == 3


async def test_an_account_without_password_cannot_log_in_with_one() -> None:
    kit = make_identity_kit()
    await kit.sign_up(EMAIL, password=None)
    with pytest.raises(Unauthenticated, match="invalid email or password"):
        await login(kit)
    assert kit.passwords.verify_calls == 1


async def test_a_malformed_email_is_an_invalid_argument() -> None:
    kit = make_identity_kit()
    with pytest.raises(InvalidArgument, match="email"):
        await login(kit, email="not-an-email")


async def test_ten_failures_lock_the_email_and_ip_with_retry_after() -> None:
    kit = make_identity_kit()
    await kit.sign_up(EMAIL, PASSWORD)
    for _ in range(10):
        kit.clock.advance(seconds=30)
        with pytest.raises(Unauthenticated):
            await login(kit, "wrong password")
    verifications = kit.passwords.verify_calls
    with pytest.raises(ResourceExhausted) as caught:
        await login(kit)  # even the right password is not tried while locked
    assert caught.value.retry_after == 15 * 60 - 9 * 30
    assert kit.passwords.verify_calls == verifications

    kit.clock.advance(seconds=15 * 60 - 9 * 30)
    await login(kit)


async def test_the_lock_is_per_client_ip() -> None:
    kit = make_identity_kit()
    await kit.sign_up(EMAIL, PASSWORD)
    for _ in range(10):
        with pytest.raises(Unauthenticated):
            await login(kit, "wrong password")
    await login(kit, ip="10.9.9.9")


async def test_a_successful_login_clears_the_failure_count() -> None:
    kit = make_identity_kit()
    await kit.sign_up(EMAIL, PASSWORD)
    for _ in range(9):
        with pytest.raises(Unauthenticated):
            await login(kit, "wrong password")
    await login(kit)
    for _ in range(9):
        with pytest.raises(Unauthenticated):
            await login(kit, "wrong password")
    await login(kit)


async def test_authenticate_returns_the_principal_of_a_live_token() -> None:
    kit = make_identity_kit()
    token = (await kit.sign_up(EMAIL, PASSWORD)).token
    principal = await kit.authenticate()(token)
    assert principal.user_id == kit.user_by_email(EMAIL).id
    assert principal.session_id == kit.session_of(token).id


async def test_authenticate_refuses_expired_and_forged_tokens() -> None:
    kit = make_identity_kit()
    token = (await kit.sign_up(EMAIL, PASSWORD)).token
    with pytest.raises(Unauthenticated):
        await kit.authenticate()("eyJforged")
    kit.clock.advance(minutes=15)
    with pytest.raises(Unauthenticated):
        await kit.authenticate()(token)


async def test_logout_revokes_the_session_everywhere() -> None:
    kit = make_identity_kit()
    token = (await kit.sign_up(EMAIL, PASSWORD)).token
    other = await login(kit)
    session = kit.session_of(token)

    await kit.logout()(LogoutCommand(session.id))

    assert kit.store.sessions[session.id].revoked_at == kit.clock.now()
    with pytest.raises(Unauthenticated):
        await kit.authenticate()(token)
    with pytest.raises(Unauthenticated):
        await kit.refresh_token()(RefreshTokenCommand(token))
    await kit.authenticate()(other)  # only that session ends


async def test_logout_remembers_the_revocation_until_the_session_could_have_ended() -> None:
    kit = make_identity_kit()
    token = (await kit.sign_up(EMAIL, PASSWORD)).token
    kit.clock.advance(days=10)
    await kit.logout()(LogoutCommand(kit.session_of(token).id))
    [(ids, ttl)] = kit.revocations.calls
    assert ids == [kit.session_of(token).id]
    # 20 days left of the 30-day session, plus a day's grace for its last access token.
    assert ttl == int(timedelta(days=21).total_seconds())


async def test_logging_out_twice_announces_the_revocation_again() -> None:
    kit = make_identity_kit()
    token = (await kit.sign_up(EMAIL, PASSWORD)).token
    session_id = kit.session_of(token).id
    await kit.logout()(LogoutCommand(session_id))
    await kit.logout()(LogoutCommand(session_id))
    assert len(kit.revocations.calls) == 2


async def test_refresh_accepts_an_expired_token_of_a_live_session() -> None:
    kit = make_identity_kit()
    token = (await kit.sign_up(EMAIL, PASSWORD)).token
    kit.clock.advance(hours=2)
    with pytest.raises(Unauthenticated):
        await kit.authenticate()(token)

    new_token = await kit.refresh_token()(RefreshTokenCommand(token))

    principal = await kit.authenticate()(new_token)
    assert principal.session_id == kit.session_of(token).id
    assert kit.session_of(token).last_refreshed_at == kit.clock.now()


async def test_refresh_is_refused_after_seven_idle_days() -> None:
    kit = make_identity_kit()
    token = (await kit.sign_up(EMAIL, PASSWORD)).token
    kit.clock.advance(days=7)
    with pytest.raises(Unauthenticated):
        await kit.refresh_token()(RefreshTokenCommand(token))


async def test_refresh_keeps_a_session_going_but_not_past_thirty_days() -> None:
    kit = make_identity_kit()
    token = (await kit.sign_up(EMAIL, PASSWORD)).token
    for _ in range(4):
        kit.clock.advance(days=6)
        token = await kit.refresh_token()(RefreshTokenCommand(token))
    kit.clock.advance(days=5, hours=23)  # 29 days 23 hours: still alive
    token = await kit.refresh_token()(RefreshTokenCommand(token))
    kit.clock.advance(hours=1)
    with pytest.raises(Unauthenticated):
        await kit.refresh_token()(RefreshTokenCommand(token))


async def test_refresh_refuses_a_forged_token() -> None:
    kit = make_identity_kit()
    with pytest.raises(Unauthenticated):
        await kit.refresh_token()(RefreshTokenCommand("eyJforged"))


async def test_logout_while_revocations_are_down_changes_nothing_and_a_retry_works() -> None:
    kit = make_identity_kit()
    token = (await kit.sign_up(EMAIL, PASSWORD)).token
    session = kit.session_of(token)
    kit.revocations.down = True

    with pytest.raises(Unavailable):
        await kit.logout()(LogoutCommand(session.id))
    # Not half-done: the session still lives in the database, so refresh and a retry work.
    assert kit.store.sessions[session.id].revoked_at is None
    await kit.refresh_token()(RefreshTokenCommand(token))

    kit.revocations.down = False
    await kit.logout()(LogoutCommand(session.id))
    assert kit.store.sessions[session.id].revoked_at is not None
    with pytest.raises(Unauthenticated):
        await kit.authenticate()(token)


async def test_a_well_signed_token_of_a_session_that_does_not_exist_is_refused() -> None:
    kit = make_identity_kit()
    token = (await kit.sign_up(EMAIL, PASSWORD)).token
    user_id = kit.session_of(token).user_id
    forged = kit.tokens.issue(user_id, "no-such-session")
    with pytest.raises(Unauthenticated):
        await kit.authenticate()(forged)
    assert (await kit.authenticate()(token)).user_id == user_id


async def test_one_address_gets_a_bounded_number_of_attempts_before_any_password_work() -> None:
    kit = make_identity_kit()
    limit = kit.policy.login_attempts_per_minute_per_ip
    for n in range(limit):
        with pytest.raises(Unauthenticated):
            await kit.login()(LoginCommand(f"nobody-{n}@example.com", "guess", "10.9.9.9"))
    verified = kit.passwords.verify_calls
    with pytest.raises(ResourceExhausted):
        await kit.login()(LoginCommand("someone-else@example.com", "guess", "10.9.9.9"))
    assert kit.passwords.verify_calls == verified  # refused before any password work
    # Another address is not affected; a minute later this one may try again.
    with pytest.raises(Unauthenticated):
        await kit.login()(LoginCommand("nobody@example.com", "guess", "10.8.8.8"))
    kit.clock.advance(minutes=1)
    with pytest.raises(Unauthenticated):
        await kit.login()(LoginCommand("nobody@example.com", "guess", "10.9.9.9"))
