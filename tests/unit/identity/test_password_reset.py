"""StartPasswordReset, VerifyPasswordReset and ResetPassword."""

from __future__ import annotations

from datetime import timedelta

import pytest

from application.identity.commands import (
    ForgotPasswordCommand,
    LoginCommand,
    PasswordResetVerified,
    ResetPasswordCommand,
    VerifyPasswordResetCommand,
)
from domain.errors import InvalidArgument, ResourceExhausted, Unauthenticated, Unavailable
from domain.identity.models import ChallengePurpose
from tests.fakes.identity import FRONTEND_URL, IdentityKit, make_identity_kit

EMAIL = "ann@example.com"
PASSWORD = "correct horse battery"
NEW_PASSWORD = "a brand new secret"
IP = "10.0.0.1"


async def forgot(kit: IdentityKit, email: str = EMAIL) -> str:
    return (await kit.start_password_reset()(ForgotPasswordCommand(email, IP))).token


async def verify(kit: IdentityKit, token: str, code: str) -> PasswordResetVerified:
    return await kit.verify_password_reset()(VerifyPasswordResetCommand(EMAIL, code, token))


async def reset_token_for(kit: IdentityKit) -> str:
    token = await forgot(kit)
    verified = await verify(kit, token, kit.secrets.last_code)
    assert verified.is_valid
    return verified.new_token


async def registered_kit() -> IdentityKit:
    kit = make_identity_kit()
    await kit.sign_up(EMAIL, PASSWORD)
    kit.clock.advance(minutes=5)  # out of the sign-up code's throttle window
    return kit


async def test_forgot_emails_a_code_to_a_known_address() -> None:
    kit = await registered_kit()
    sent = len(kit.store.outbox)
    token = await forgot(kit, email=" ANN@example.com")
    assert len(kit.store.outbox) == sent + 1
    email = kit.store.outbox[-1]
    assert email.to == EMAIL
    assert kit.secrets.last_code in email.text
    assert "10 minutes" in email.text
    assert PASSWORD not in email.text
    challenge = next(
        c
        for c in kit.store.challenges.values()
        if c.email == EMAIL and c.purpose is ChallengePurpose.FORGOT_PASSWORD
    )
    assert challenge.token_hash == kit.secret_hasher.hash(token)


async def test_forgot_does_the_same_work_for_an_unknown_address_but_sends_nothing() -> None:
    kit = await registered_kit()
    kit.store.outbox.clear()
    known = await forgot(kit)
    kit.clock.advance(minutes=5)
    unknown = await forgot(kit, email="nobody@example.com")
    assert known
    assert unknown
    # A challenge is stored either way (the same writes, so the same time); only the
    # account's owner gets an email.
    by_email = {c.email for c in kit.store.challenges.values()}
    assert {EMAIL, "nobody@example.com"} <= by_email
    assert [e.to for e in kit.store.outbox] == [EMAIL]
    # The unknown address's token leads nowhere: no code was ever sent for it.
    for code in ("000000", "123456"):
        assert not (
            await kit.verify_password_reset()(
                VerifyPasswordResetCommand("nobody@example.com", code, unknown)
            )
        ).is_valid


async def test_forgot_is_throttled_for_unknown_addresses_too() -> None:
    kit = make_identity_kit()
    await forgot(kit, email="nobody@example.com")
    with pytest.raises(ResourceExhausted) as caught:
        await forgot(kit, email="NOBODY@example.com")
    assert caught.value.retry_after == 60


async def test_verify_with_the_right_code_hands_out_a_reset_token() -> None:
    kit = await registered_kit()
    token = await forgot(kit)
    verified = await verify(kit, token, kit.secrets.last_code)
    assert verified.is_valid
    assert verified.email == EMAIL
    assert verified.new_token
    assert verified.redirect_url == f"{FRONTEND_URL}/reset-password?token={verified.new_token}"
    reset = next(
        c for c in kit.store.challenges.values() if c.purpose is ChallengePurpose.PASSWORD_RESET
    )
    assert reset.code_hash is None
    assert reset.expires_at == kit.clock.now() + timedelta(minutes=15)


async def test_verify_with_a_wrong_code_is_invalid_and_counted() -> None:
    kit = await registered_kit()
    token = await forgot(kit)
    verified = await verify(kit, token, "000000")
    assert verified == PasswordResetVerified(False, EMAIL, "", "")
    challenge = next(
        c for c in kit.store.challenges.values() if c.purpose is ChallengePurpose.FORGOT_PASSWORD
    )
    assert challenge.attempts == 1


async def test_five_wrong_codes_kill_the_reset_challenge() -> None:
    kit = await registered_kit()
    token = await forgot(kit)
    good = kit.secrets.last_code
    for _ in range(5):
        assert not (await verify(kit, token, "000000")).is_valid
    assert not (await verify(kit, token, good)).is_valid


async def test_verify_of_an_expired_or_unknown_token_is_invalid() -> None:
    kit = await registered_kit()
    token = await forgot(kit)
    assert not (await verify(kit, "unknown", kit.secrets.last_code)).is_valid
    kit.clock.advance(minutes=10)
    assert not (await verify(kit, token, kit.secrets.last_code)).is_valid


async def test_reset_sets_the_password_and_ends_every_session() -> None:
    kit = await registered_kit()
    other = (await kit.login()(LoginCommand(EMAIL, PASSWORD, IP))).token
    sessions = {s.id for s in kit.store.sessions.values()}
    reset_token = await reset_token_for(kit)

    await kit.reset_password()(ResetPasswordCommand(reset_token, NEW_PASSWORD, NEW_PASSWORD))

    assert all(s.revoked_at is not None for s in kit.store.sessions.values())
    assert kit.revocations.revoked_ids == sessions
    with pytest.raises(Unauthenticated):
        await kit.authenticate()(other)
    with pytest.raises(Unauthenticated):
        await kit.login()(LoginCommand(EMAIL, PASSWORD, IP))
    await kit.login()(LoginCommand(EMAIL, NEW_PASSWORD, IP))


async def test_reset_marks_the_email_verified_and_adds_the_password_provider() -> None:
    kit = await registered_kit()
    user = kit.user_by_email(EMAIL)
    user.email_verified = False
    user.auth_providers.clear()
    reset_token = await reset_token_for(kit)
    await kit.reset_password()(ResetPasswordCommand(reset_token, NEW_PASSWORD, NEW_PASSWORD))
    user = kit.user_by_email(EMAIL)
    assert user.email_verified
    assert user.auth_providers == ["password"]


async def test_a_reset_token_works_once() -> None:
    kit = await registered_kit()
    reset_token = await reset_token_for(kit)
    await kit.reset_password()(ResetPasswordCommand(reset_token, NEW_PASSWORD, NEW_PASSWORD))
    with pytest.raises(InvalidArgument, match="token: is invalid or expired"):
        await kit.reset_password()(
            ResetPasswordCommand(reset_token, "yet another one", "yet another one")
        )


async def test_a_reset_token_expires_after_fifteen_minutes() -> None:
    kit = await registered_kit()
    reset_token = await reset_token_for(kit)
    kit.clock.advance(minutes=15)
    with pytest.raises(InvalidArgument, match="token"):
        await kit.reset_password()(ResetPasswordCommand(reset_token, NEW_PASSWORD, NEW_PASSWORD))


async def test_the_emailed_code_token_is_not_a_reset_token() -> None:
    kit = await registered_kit()
    code_token = await forgot(kit)
    with pytest.raises(InvalidArgument, match="token"):
        await kit.reset_password()(ResetPasswordCommand(code_token, NEW_PASSWORD, NEW_PASSWORD))


async def test_reset_requires_a_matching_confirmation() -> None:
    kit = await registered_kit()
    reset_token = await reset_token_for(kit)
    with pytest.raises(InvalidArgument, match="password_confirm: does not match new_password"):
        await kit.reset_password()(ResetPasswordCommand(reset_token, NEW_PASSWORD, "different!"))


async def test_reset_enforces_the_password_policy_without_using_up_the_token() -> None:
    kit = await registered_kit()
    reset_token = await reset_token_for(kit)
    with pytest.raises(InvalidArgument, match="new_password"):
        await kit.reset_password()(ResetPasswordCommand(reset_token, "short", "short"))
    await kit.reset_password()(ResetPasswordCommand(reset_token, NEW_PASSWORD, NEW_PASSWORD))


async def test_reset_while_revocations_are_down_changes_nothing_and_the_token_still_works() -> None:
    kit = await registered_kit()
    reset_token = await reset_token_for(kit)
    kit.revocations.down = True

    with pytest.raises(Unavailable):
        await kit.reset_password()(ResetPasswordCommand(reset_token, NEW_PASSWORD, NEW_PASSWORD))

    assert all(s.revoked_at is None for s in kit.store.sessions.values())
    await kit.login()(LoginCommand(EMAIL, PASSWORD, IP))
    kit.revocations.down = False
    await kit.reset_password()(ResetPasswordCommand(reset_token, NEW_PASSWORD, NEW_PASSWORD))
    await kit.login()(LoginCommand(EMAIL, NEW_PASSWORD, IP))
