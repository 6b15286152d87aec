"""Sign-up, sign-in, sessions and password reset over HTTP, codes read from real emails."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from tests.e2e.flows import (
    DEFAULT_PASSWORD,
    bearer,
    let_a_minute_pass_for,
    new_email,
    register_and_verify,
    sign_up,
)
from tests.support.mailbox import Mailbox

Client = AsyncTestClient[Any]


async def test_register_verify_initial_login_refresh_logout(
    client: Client, mailbox: Mailbox
) -> None:
    email = new_email()
    started = await client.post("/account/v1/auth/register", json={"email": email})
    assert started.status_code == 200
    body = started.json()
    assert body["token"]
    assert body["redirect_url"].startswith("http://app.test/")

    code = await mailbox.code_for(email)
    verified = await client.post(
        "/account/v1/auth/register/verify",
        json={"email": email, "code": code, "token": body["token"], "country": "ES"},
    )
    assert verified.status_code == 200, verified.text
    assert verified.json()["is_initialized"] is False
    first_token = verified.json()["token"]

    me = await client.get("/account/v1/user", headers=bearer(first_token))
    assert me.status_code == 200
    user = me.json()["user"]
    assert user["email"] == email
    assert user["email_verified"] is True
    assert user["is_initialized"] is False
    assert user["current_tenant_id"], "sign-up creates the first tenant"
    assert user["created_at"].endswith("Z")

    initial = await client.post(
        "/account/v1/user/initial",
        json={"password": DEFAULT_PASSWORD, "timezone": "Europe/Madrid"},
        headers=bearer(first_token),
    )
    assert initial.status_code == 200, initial.text

    login = await client.post(
        "/account/v1/auth/login", json={"email": email.upper(), "password": DEFAULT_PASSWORD}
    )
    assert login.status_code == 200, login.text
    token = login.json()["token"]
    me = (await client.get("/account/v1/user", headers=bearer(token))).json()["user"]
    assert me["is_initialized"] is True
    assert me["timezone"] == "Europe/Madrid"
    assert "password" in me["auth_providers"]

    refreshed = await client.post("/account/v1/auth/token/refresh", json={"token": token})
    assert refreshed.status_code == 200, refreshed.text
    new_token = refreshed.json()["new_token"]
    assert (await client.get("/account/v1/user", headers=bearer(new_token))).status_code == 200

    out = await client.post("/account/v1/auth/logout", json={}, headers=bearer(new_token))
    assert out.status_code == 200
    assert out.json() == {}

    for stale in (token, new_token):
        refused = await client.get("/account/v1/user", headers=bearer(stale))
        assert refused.status_code == 401
        assert refused.json()["code"] == 16
    again = await client.post("/account/v1/auth/token/refresh", json={"token": new_token})
    assert again.status_code == 401


async def test_register_twice_with_a_registered_email_is_409(
    client: Client, mailbox: Mailbox
) -> None:
    email, _ = await sign_up(client, mailbox)
    response = await client.post("/account/v1/auth/register", json={"email": email})
    assert response.status_code == 409
    assert response.json()["code"] == 6


async def test_register_refuses_a_second_code_within_a_minute(client: Client) -> None:
    email = new_email()
    assert (
        await client.post("/account/v1/auth/register", json={"email": email})
    ).status_code == 200
    again = await client.post("/account/v1/auth/register", json={"email": email})
    assert again.status_code == 429
    assert again.json()["code"] == 8
    assert int(again.headers["retry-after"]) >= 1


async def test_wrong_codes_are_refused_and_five_kill_the_challenge(
    client: Client, mailbox: Mailbox
) -> None:
    email = new_email()
    token = (await client.post("/account/v1/auth/register", json={"email": email})).json()["token"]
    code = await mailbox.code_for(email)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        response = await client.post(
            "/account/v1/auth/register/verify", json={"email": email, "code": wrong, "token": token}
        )
        assert response.status_code == 400
        assert response.json()["code"] == 3
        assert "code" in response.json()["message"]
    dead = await client.post(
        "/account/v1/auth/register/verify", json={"email": email, "code": code, "token": token}
    )
    assert dead.status_code == 400, "the right code no longer works after five wrong tries"


async def test_login_with_a_wrong_password_is_401_and_locks_after_ten(
    client: Client, mailbox: Mailbox
) -> None:
    email, _ = await sign_up(client, mailbox)
    for _ in range(10):
        response = await client.post(
            "/account/v1/auth/login", json={"email": email, "password": "not the password"}
        )
        assert response.status_code == 401
        assert response.json()["code"] == 16
    locked = await client.post(
        "/account/v1/auth/login", json={"email": email, "password": DEFAULT_PASSWORD}
    )
    assert locked.status_code == 429
    assert locked.json()["code"] == 8
    assert int(locked.headers["retry-after"]) > 0


async def test_login_of_an_unknown_email_says_the_same_as_a_wrong_password(client: Client) -> None:
    response = await client.post(
        "/account/v1/auth/login", json={"email": new_email(), "password": "whatever-123"}
    )
    assert response.status_code == 401
    assert response.json() == {"code": 16, "message": "invalid email or password"}


async def test_forgot_password_reset_revokes_sessions_and_token_is_single_use(
    client: Client, mailbox: Mailbox, redis_url: str, redis_prefix: str
) -> None:
    email, old_token = await sign_up(client, mailbox)
    await let_a_minute_pass_for(redis_url, redis_prefix, email)
    forgot = await client.post("/account/v1/auth/password/forgot", json={"email": email})
    assert forgot.status_code == 200
    code = await mailbox.code_for(email, count=2)  # the first email was the sign-up code
    verified = await client.post(
        "/account/v1/auth/password/forgot/verify",
        json={"email": email, "code": code, "token": forgot.json()["token"]},
    )
    assert verified.status_code == 200
    body = verified.json()
    assert body["is_valid"] is True
    assert body["email"] == email
    assert body["new_token"]
    assert body["redirect_url"].startswith("http://app.test/")

    mismatch = await client.post(
        "/account/v1/auth/password/reset",
        json={
            "token": body["new_token"],
            "new_password": "brand new pass",
            "password_confirm": "x",
        },
    )
    assert mismatch.status_code == 400
    assert "password_confirm" in mismatch.json()["message"]

    reset = {
        "token": body["new_token"],
        "new_password": "brand new pass",
        "password_confirm": "brand new pass",
    }
    assert (await client.post("/account/v1/auth/password/reset", json=reset)).status_code == 200
    reused = await client.post("/account/v1/auth/password/reset", json=reset)
    assert reused.status_code == 400

    assert (await client.get("/account/v1/user", headers=bearer(old_token))).status_code == 401
    old = await client.post(
        "/account/v1/auth/login", json={"email": email, "password": DEFAULT_PASSWORD}
    )
    assert old.status_code == 401
    new = await client.post(
        "/account/v1/auth/login", json={"email": email, "password": "brand new pass"}
    )
    assert new.status_code == 200


async def test_forgot_password_answers_the_same_for_an_unknown_email(
    client: Client, mailbox: Mailbox
) -> None:
    email = new_email()
    response = await client.post("/account/v1/auth/password/forgot", json={"email": email})
    assert response.status_code == 200
    assert set(response.json()) == {"token"}
    assert response.json()["token"]
    check = await client.post(
        "/account/v1/auth/password/forgot/verify",
        json={"email": email, "code": "123456", "token": response.json()["token"]},
    )
    assert check.status_code == 200
    assert check.json()["is_valid"] is False
    assert mailbox.for_address(email) == []


async def test_user_initial_twice_is_refused(client: Client, mailbox: Mailbox) -> None:
    email = new_email()
    token = await register_and_verify(client, mailbox, email)
    body = {"password": DEFAULT_PASSWORD, "timezone": "UTC"}
    first = await client.post("/account/v1/user/initial", json=body, headers=bearer(token))
    assert first.status_code == 200
    second = await client.post("/account/v1/user/initial", json=body, headers=bearer(token))
    assert second.status_code == 402
    assert second.json()["code"] == 9


async def test_user_initial_enforces_the_password_policy(client: Client, mailbox: Mailbox) -> None:
    email = new_email()
    token = await register_and_verify(client, mailbox, email)
    for password in ("short", "x" * 129, email):
        response = await client.post(
            "/account/v1/user/initial",
            json={"password": password, "timezone": "UTC"},
            headers=bearer(token),
        )
        assert response.status_code == 400, password
        assert response.json()["message"].startswith("password")


async def test_user_initial_refuses_an_unknown_timezone(client: Client, mailbox: Mailbox) -> None:
    token = await register_and_verify(client, mailbox, new_email())
    response = await client.post(
        "/account/v1/user/initial",
        json={"password": DEFAULT_PASSWORD, "timezone": "Mars/Olympus"},
        headers=bearer(token),
    )
    assert response.status_code == 400
    assert response.json()["message"].startswith("timezone")
