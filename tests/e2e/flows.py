"""Plain helpers that walk the sign-up flow over HTTP, reading codes from real emails."""

from __future__ import annotations

import secrets
from typing import Any

import redis.asyncio as redis_asyncio
from litestar.testing import AsyncTestClient

from tests.support.mailbox import Mailbox

DEFAULT_PASSWORD = "correct horse battery"


def new_email() -> str:
    return f"user-{secrets.token_hex(6)}@example.com"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def register_and_verify(client: AsyncTestClient[Any], mailbox: Mailbox, email: str) -> str:
    """Register and verify `email`; returns the first access token (not yet initialized)."""
    started = await client.post("/account/v1/auth/register", json={"email": email})
    assert started.status_code == 200, started.text
    code = await mailbox.code_for(email)
    verified = await client.post(
        "/account/v1/auth/register/verify",
        json={"email": email, "code": code, "token": started.json()["token"]},
    )
    assert verified.status_code == 200, verified.text
    assert verified.json()["is_initialized"] is False
    token: str = verified.json()["token"]
    return token


async def sign_up(
    client: AsyncTestClient[Any],
    mailbox: Mailbox,
    email: str | None = None,
    password: str = DEFAULT_PASSWORD,
) -> tuple[str, str]:
    """A fully initialized account: returns (email, access token)."""
    address = email or new_email()
    token = await register_and_verify(client, mailbox, address)
    initial = await client.post(
        "/account/v1/user/initial",
        json={"password": password, "timezone": "Europe/Madrid"},
        headers=bearer(token),
    )
    assert initial.status_code == 200, initial.text
    return address, initial.json()["token"]


async def let_a_minute_pass_for(redis_url: str, redis_prefix: str, email: str) -> None:
    """Drop the per-minute code throttle of `email`, as if a minute had passed."""
    client = redis_asyncio.Redis.from_url(redis_url)
    try:
        await client.delete(f"{redis_prefix}rl:code:email:min:{email}")
    finally:
        await client.aclose()
