"""Sign-up by emailed code: StartRegistration, VerifyRegistration, InitializeUser."""

from __future__ import annotations

from datetime import timedelta

import pytest

from application.identity.commands import (
    ForgotPasswordCommand,
    InitializeUserCommand,
    StartRegistrationCommand,
    VerifyRegistrationCommand,
)
from domain.errors import AlreadyExists, FailedPrecondition, InvalidArgument, ResourceExhausted
from domain.identity.models import ChallengePurpose
from domain.tenancy.models import Role
from tests.fakes.identity import FRONTEND_URL, IdentityKit, make_identity_kit

EMAIL = "ann@example.com"
IP = "10.0.0.1"


async def start(kit: IdentityKit, email: str = EMAIL, ip: str = IP) -> str:
    started = await kit.start_registration()(StartRegistrationCommand(email, ip))
    return started.token


async def verify(kit: IdentityKit, token: str, code: str, email: str = EMAIL) -> str:
    signed_in = await kit.verify_registration()(VerifyRegistrationCommand(email, code, token, IP))
    return signed_in.token


async def test_start_queues_the_code_email_and_returns_the_verify_link() -> None:
    kit = make_identity_kit()
    started = await kit.start_registration()(StartRegistrationCommand(" Ann@Example.com ", IP))

    code = kit.secrets.last_code
    [email] = kit.store.outbox
    assert email.to == EMAIL
    assert code in email.text
    assert "10 minutes" in email.text
    assert started.redirect_url == (
        f"{FRONTEND_URL}/register/verify?token={started.token}&email=ann%40example.com"
    )


async def test_start_stores_only_hashes_of_token_and_code() -> None:
    kit = make_identity_kit()
    token = await start(kit)
    [challenge] = kit.store.challenges.values()
    assert challenge.purpose is ChallengePurpose.REGISTER
    assert challenge.token_hash == kit.secret_hasher.hash(token)
    assert challenge.code_hash == kit.secret_hasher.hash(kit.secrets.last_code)
    assert token not in repr(challenge)
    assert kit.secrets.last_code not in repr(challenge)
    assert challenge.expires_at == kit.clock.now() + timedelta(minutes=10)


async def test_start_refuses_an_already_registered_email_and_sends_nothing() -> None:
    kit = make_identity_kit()
    await kit.sign_up(EMAIL)
    sent = len(kit.store.outbox)
    kit.clock.advance(minutes=5)
    with pytest.raises(AlreadyExists, match="email already registered"):
        await start(kit, email="ANN@example.com")
    assert len(kit.store.outbox) == sent


async def test_a_second_code_within_a_minute_is_refused_with_retry_after() -> None:
    kit = make_identity_kit()
    await start(kit)
    kit.clock.advance(seconds=20)
    with pytest.raises(ResourceExhausted) as caught:
        await start(kit)
    assert caught.value.retry_after == 40
    kit.clock.advance(seconds=40)
    await start(kit)
    assert len(kit.store.outbox) == 2


async def test_at_most_five_codes_per_hour_per_email() -> None:
    kit = make_identity_kit()
    for _ in range(5):
        await start(kit)
        kit.clock.advance(seconds=61)
    with pytest.raises(ResourceExhausted) as caught:
        await start(kit)
    assert caught.value.retry_after == 3600 - 5 * 61
    kit.clock.advance(seconds=3600 - 5 * 61)
    await start(kit)
    assert len(kit.store.outbox) == 6


async def test_codes_per_client_ip_are_limited_across_emails() -> None:
    kit = make_identity_kit(code_sends_per_hour_per_ip=2)
    await start(kit, email="a@example.com")
    await start(kit, email="b@example.com")
    with pytest.raises(ResourceExhausted):
        await start(kit, email="c@example.com")
    await start(kit, email="c@example.com", ip="10.0.0.2")


async def test_verify_creates_the_user_their_tenant_and_a_session() -> None:
    kit = make_identity_kit()
    token = await start(kit)
    signed_in = await kit.verify_registration()(
        VerifyRegistrationCommand(EMAIL, kit.secrets.last_code, token, IP)
    )

    assert signed_in.is_initialized is False
    user = kit.user_by_email(EMAIL)
    assert user.email_verified
    assert not user.is_initialized
    assert user.name == "ann"
    assert user.password_hash is None
    tenant = kit.store.tenants[user.current_tenant_id]
    assert tenant.name == "ann's team"
    membership = kit.store.memberships[(tenant.id, user.id)]
    assert membership.role is Role.OWNER
    session = kit.session_of(signed_in.token)
    assert session.user_id == user.id
    assert session.is_alive(kit.clock.now())


async def test_a_wrong_code_is_counted_and_persisted() -> None:
    kit = make_identity_kit()
    token = await start(kit)
    with pytest.raises(InvalidArgument, match="code: is incorrect"):
        await verify(kit, token, "000000")
    [challenge] = kit.store.challenges.values()
    assert challenge.attempts == 1
    assert kit.store.users == {}


async def test_five_wrong_codes_kill_the_challenge() -> None:
    kit = make_identity_kit()
    token = await start(kit)
    good = kit.secrets.last_code
    for _ in range(5):
        with pytest.raises(InvalidArgument, match="is incorrect"):
            await verify(kit, token, "000000")
    [challenge] = kit.store.challenges.values()
    assert challenge.attempts == 5  # the fifth wrong try was committed too
    with pytest.raises(InvalidArgument, match="code: has expired; request a new one"):
        await verify(kit, token, good)


async def test_the_code_expires_after_ten_minutes() -> None:
    kit = make_identity_kit()
    token = await start(kit)
    kit.clock.advance(minutes=10)
    with pytest.raises(InvalidArgument, match="has expired"):
        await verify(kit, token, kit.secrets.last_code)


async def test_the_code_still_works_just_before_ten_minutes() -> None:
    kit = make_identity_kit()
    token = await start(kit)
    kit.clock.advance(minutes=9, seconds=59)
    await verify(kit, token, kit.secrets.last_code)
    assert kit.user_by_email(EMAIL)


async def test_the_code_works_only_once() -> None:
    kit = make_identity_kit()
    token = await start(kit)
    await verify(kit, token, kit.secrets.last_code)
    with pytest.raises(InvalidArgument, match="has expired"):
        await verify(kit, token, kit.secrets.last_code)


@pytest.mark.parametrize("token", ["", "not-a-token"])
async def test_an_unknown_token_is_refused(token: str) -> None:
    kit = make_identity_kit()
    await start(kit)
    with pytest.raises(InvalidArgument, match="token: is invalid or expired"):
        await verify(kit, token, kit.secrets.last_code)


async def test_the_token_is_bound_to_its_email() -> None:
    kit = make_identity_kit()
    token = await start(kit)
    with pytest.raises(InvalidArgument, match="token: is invalid or expired"):
        await verify(kit, token, kit.secrets.last_code, email="bob@example.com")


async def test_a_password_reset_token_cannot_verify_a_registration() -> None:
    kit = make_identity_kit()
    await kit.sign_up(EMAIL)
    kit.clock.advance(minutes=2)
    forgot = await kit.start_password_reset()(ForgotPasswordCommand(EMAIL, IP))
    with pytest.raises(InvalidArgument, match="token"):
        await verify(kit, forgot.token, kit.secrets.last_code)


async def test_email_registered_meanwhile_is_refused_at_verification() -> None:
    kit = make_identity_kit()
    first = await start(kit)
    first_code = kit.secrets.last_code
    kit.clock.advance(seconds=61)
    second = await start(kit)
    second_code = kit.secrets.last_code
    await verify(kit, first, first_code)
    with pytest.raises(AlreadyExists):
        await verify(kit, second, second_code)
    assert len(kit.store.users) == 1
    assert len(kit.store.tenants) == 1


async def test_initialize_sets_the_first_password_and_keeps_the_session() -> None:
    kit = make_identity_kit()
    signed_in = await kit.sign_up(EMAIL, password=None)
    claims = kit.tokens.read(signed_in.token)

    result = await kit.initialize_user()(
        InitializeUserCommand(claims.user_id, claims.session_id, "long enough pw", "Asia/Tokyo")
    )

    assert result.is_initialized is True
    assert kit.tokens.read(result.token).session_id == claims.session_id
    user = kit.user_by_email(EMAIL)
    assert user.is_initialized
    assert user.timezone == "Asia/Tokyo"
    assert user.password_hash == "pw:long enough pw"
    assert kit.revocations.calls == []


async def test_initialize_is_allowed_once() -> None:
    kit = make_identity_kit()
    signed_in = await kit.sign_up(EMAIL, password="first password")
    claims = kit.tokens.read(signed_in.token)
    with pytest.raises(FailedPrecondition):
        await kit.initialize_user()(
            InitializeUserCommand(claims.user_id, claims.session_id, "second password", "UTC")
        )
    assert kit.user_by_email(EMAIL).password_hash == "pw:first password"


@pytest.mark.parametrize("password", ["short", EMAIL.upper(), "x" * 129])
async def test_initialize_enforces_the_password_policy(password: str) -> None:
    kit = make_identity_kit()
    signed_in = await kit.sign_up(EMAIL, password=None)
    claims = kit.tokens.read(signed_in.token)
    with pytest.raises(InvalidArgument, match="password"):
        await kit.initialize_user()(
            InitializeUserCommand(claims.user_id, claims.session_id, password, "UTC")
        )
    assert not kit.user_by_email(EMAIL).is_initialized
