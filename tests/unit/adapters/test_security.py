"""Clock, ids, secrets, HMAC hashing, argon2id passwords and JWT access tokens."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from adapters.security import (
    Argon2PasswordHasher,
    HmacSecretHasher,
    JwtTokenIssuer,
    OsSecretGenerator,
    Sha256TokenHasher,
    SystemClock,
    UuidGenerator,
)
from application.common.ports import Clock
from domain.errors import ResourceExhausted, Unauthenticated

SECRET = "s" * 40
ISSUER = "https://astra.test"
AUDIENCE = "astra-api"


class ManualClock(Clock):
    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current


def make_issuer(clock: Clock, **overrides: object) -> JwtTokenIssuer:
    options: dict[str, object] = {"secret": SECRET, "issuer": ISSUER, "audience": AUDIENCE}
    options.update(overrides)
    return JwtTokenIssuer(
        str(options["secret"]),
        str(options["issuer"]),
        str(options["audience"]),
        ttl_seconds=900,
        clock=clock,
    )


def fast_hasher() -> Argon2PasswordHasher:
    return Argon2PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def test_system_clock_is_timezone_aware_utc() -> None:
    now = SystemClock().now()
    assert now.utcoffset() == timedelta(0)
    assert abs(now - datetime.now(UTC)) < timedelta(seconds=5)


def test_uuid_generator_gives_distinct_time_ordered_uuid7_strings() -> None:
    generator = UuidGenerator()
    ids = [generator.new_id() for _ in range(200)]
    assert len(set(ids)) == 200
    parsed = [uuid.UUID(value) for value in ids]
    assert all(value.version == 7 and value.variant == uuid.RFC_4122 for value in parsed)
    assert all(str(value) == text for value, text in zip(parsed, ids, strict=True))
    # The leading 48 bits are milliseconds, so ids never go backwards in time.
    stamps = [value.int >> 80 for value in parsed]
    assert stamps == sorted(stamps)


def test_secret_tokens_are_url_safe_and_long() -> None:
    tokens = {OsSecretGenerator().token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{43,}", token) for token in tokens)


def test_numeric_codes_have_exactly_the_requested_digits() -> None:
    generator = OsSecretGenerator()
    codes = [generator.numeric_code(6) for _ in range(500)]
    assert all(re.fullmatch(r"\d{6}", code) for code in codes)
    assert len(set(codes)) > 400
    assert re.fullmatch(r"\d", generator.numeric_code(1))


def test_hmac_hasher_is_deterministic_and_matches_only_the_same_secret() -> None:
    hasher = HmacSecretHasher(b"k" * 32)
    hashed = hasher.hash("123456")
    assert hashed == hasher.hash("123456")
    assert re.fullmatch(r"[0-9a-f]{64}", hashed)
    assert hasher.matches("123456", hashed)
    assert not hasher.matches("123457", hashed)
    assert not hasher.matches("123456", "not-a-hash")


def test_hmac_hash_depends_on_the_key() -> None:
    assert HmacSecretHasher(b"a" * 32).hash("x") != HmacSecretHasher(b"b" * 32).hash("x")


def test_hmac_hasher_refuses_a_short_key() -> None:
    with pytest.raises(ValueError):
        HmacSecretHasher(b"short")


async def test_password_hash_is_argon2id_and_verifies() -> None:
    hasher = fast_hasher()
    hashed = await hasher.hash("correct horse battery staple")
    assert hashed.startswith("$argon2id$")
    assert await hasher.verify(hashed, "correct horse battery staple")


async def test_password_verify_returns_false_for_a_wrong_password() -> None:
    hasher = fast_hasher()
    hashed = await hasher.hash("right password")
    assert not await hasher.verify(hashed, "wrong password")


async def test_password_verify_returns_false_for_a_malformed_hash() -> None:
    hasher = fast_hasher()
    assert not await hasher.verify("not-an-argon2-hash", "anything")
    assert not await hasher.verify("", "anything")


async def test_password_hashes_are_salted() -> None:
    hasher = fast_hasher()
    assert await hasher.hash("same") != await hasher.hash("same")


def test_token_round_trip_carries_user_session_and_expiry() -> None:
    clock = ManualClock(datetime(2030, 1, 1, 12, 0, tzinfo=UTC))
    issuer = make_issuer(clock)
    claims = issuer.read(issuer.issue("user-1", "session-1"))
    assert claims.user_id == "user-1"
    assert claims.session_id == "session-1"
    assert claims.expires_at == datetime(2030, 1, 1, 12, 15, tzinfo=UTC)


def test_token_carries_the_standard_claims() -> None:
    clock = ManualClock(datetime(2030, 1, 1, tzinfo=UTC))
    token = make_issuer(clock).issue("u", "s")
    payload = jwt.decode(token, options={"verify_signature": False})
    assert set(payload) == {"sub", "sid", "iss", "aud", "exp", "iat", "jti"}
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_expired_token_is_refused() -> None:
    clock = ManualClock(datetime(2030, 1, 1, tzinfo=UTC))
    issuer = make_issuer(clock)
    token = issuer.issue("u", "s")
    clock.current += timedelta(seconds=900)
    with pytest.raises(Unauthenticated, match="invalid or expired token"):
        issuer.read(token)


def test_token_is_valid_until_just_before_expiry() -> None:
    clock = ManualClock(datetime(2030, 1, 1, tzinfo=UTC))
    issuer = make_issuer(clock)
    token = issuer.issue("u", "s")
    clock.current += timedelta(seconds=899)
    assert issuer.read(token).user_id == "u"


def test_expired_token_is_accepted_when_expiry_is_allowed() -> None:
    clock = ManualClock(datetime(2030, 1, 1, tzinfo=UTC))
    issuer = make_issuer(clock)
    token = issuer.issue("u", "s")
    clock.current += timedelta(days=3)
    assert issuer.read(token, allow_expired=True).session_id == "s"


def test_token_issued_by_a_past_clock_is_refused_against_real_time() -> None:
    issuer = make_issuer(ManualClock(datetime(2020, 1, 1, tzinfo=UTC)))
    token = issuer.issue("u", "s")
    with pytest.raises(Unauthenticated):
        make_issuer(SystemClock()).read(token)


def test_tampered_signature_is_refused_even_when_expiry_is_allowed() -> None:
    issuer = make_issuer(SystemClock())
    token = issuer.issue("u", "s")
    head, payload, signature = token.split(".")
    tampered = f"{head}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    with pytest.raises(Unauthenticated):
        issuer.read(tampered, allow_expired=True)


def test_token_signed_with_another_secret_is_refused() -> None:
    token = make_issuer(SystemClock(), secret="x" * 40).issue("u", "s")
    with pytest.raises(Unauthenticated):
        make_issuer(SystemClock()).read(token)


def test_token_for_another_audience_is_refused() -> None:
    token = make_issuer(SystemClock(), audience="someone-else").issue("u", "s")
    with pytest.raises(Unauthenticated):
        make_issuer(SystemClock()).read(token)


def test_token_from_another_issuer_is_refused() -> None:
    token = make_issuer(SystemClock(), issuer="https://evil.test").issue("u", "s")
    with pytest.raises(Unauthenticated):
        make_issuer(SystemClock()).read(token)


def test_token_missing_the_session_claim_is_refused() -> None:
    now = int(datetime.now(UTC).timestamp())
    claims = {"sub": "u", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 60, "jti": "j"}
    token = jwt.encode(claims, SECRET, algorithm="HS256")
    with pytest.raises(Unauthenticated):
        make_issuer(SystemClock()).read(token)


def test_unsigned_token_is_refused() -> None:
    now = int(datetime.now(UTC).timestamp())
    claims = {
        "sub": "u",
        "sid": "s",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 60,
        "jti": "j",
    }
    token = jwt.encode(claims, "", algorithm="none")
    with pytest.raises(Unauthenticated):
        make_issuer(SystemClock()).read(token)


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "eyJhbGciOiJIUzI1NiJ9..."])
def test_garbage_token_is_refused(garbage: str) -> None:
    with pytest.raises(Unauthenticated):
        make_issuer(SystemClock()).read(garbage)


def test_issuer_refuses_a_short_secret() -> None:
    with pytest.raises(ValueError):
        make_issuer(SystemClock(), secret="too-short")


def test_sha256_token_hasher_is_keyless_deterministic_and_constant_time_matching() -> None:
    hasher = Sha256TokenHasher()
    token = "sk_live_abc_" + "x" * 43
    hashed = hasher.hash(token)
    assert hashed == Sha256TokenHasher().hash(token)
    assert token not in hashed
    assert len(hashed) == 64
    assert hasher.matches(token, hashed)
    assert not hasher.matches(token + "y", hashed)


async def test_hashing_refuses_at_once_beyond_its_bounded_queue() -> None:
    hasher = Argon2PasswordHasher(
        time_cost=1, memory_cost=8192, parallelism=1, max_concurrent=1, max_queued=1
    )
    try:
        stored = await hasher.hash("correct horse battery")
        results = await asyncio.gather(
            *(hasher.verify(stored, "correct horse battery") for _ in range(10)),
            return_exceptions=True,
        )
        # One hashing, one waiting; the other eight are told to retry instead of queueing.
        assert results.count(True) == 2
        refused = [r for r in results if isinstance(r, ResourceExhausted)]
        assert len(refused) == 8
        assert refused[0].retry_after == 1
        assert await hasher.verify(stored, "correct horse battery")  # the queue drained
    finally:
        hasher.close()
