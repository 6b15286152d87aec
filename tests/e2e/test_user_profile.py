"""User endpoints over HTTP: name, password, avatar and deletion."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from litestar.testing import AsyncTestClient
from PIL import Image

from adapters.sql.engine import create_engine, create_sessionmaker
from adapters.sql.uow import SqlUnitOfWorkFactory
from domain.tenancy.models import Membership, Role
from tests.e2e.flows import DEFAULT_PASSWORD, bearer, sign_up
from tests.support.mailbox import Mailbox

Client = AsyncTestClient[Any]


def png_bytes(size: tuple[int, int] = (800, 600)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


async def test_update_name_trims_and_validates(client: Client, mailbox: Mailbox) -> None:
    _, token = await sign_up(client, mailbox)
    ok = await client.put(
        "/account/v1/user/name", json={"name": "  Ada Lovelace "}, headers=bearer(token)
    )
    assert ok.status_code == 200
    assert ok.json() == {}
    me = (await client.get("/account/v1/user", headers=bearer(token))).json()["user"]
    assert me["name"] == "Ada Lovelace"
    empty = await client.put("/account/v1/user/name", json={"name": "  "}, headers=bearer(token))
    assert empty.status_code == 400
    assert empty.json()["message"].startswith("name")


async def test_password_change_revokes_other_sessions_only(
    client: Client, mailbox: Mailbox
) -> None:
    email, token = await sign_up(client, mailbox)
    other = (
        await client.post(
            "/account/v1/auth/login", json={"email": email, "password": DEFAULT_PASSWORD}
        )
    ).json()["token"]
    wrong = await client.put(
        "/account/v1/user/password",
        json={"old_password": "nope-nope-nope", "new_password": "another secret"},
        headers=bearer(token),
    )
    assert wrong.status_code == 400
    assert "old_password" in wrong.json()["message"]
    changed = await client.put(
        "/account/v1/user/password",
        json={"old_password": DEFAULT_PASSWORD, "new_password": "another secret"},
        headers=bearer(token),
    )
    assert changed.status_code == 200
    assert (await client.get("/account/v1/user", headers=bearer(token))).status_code == 200
    assert (await client.get("/account/v1/user", headers=bearer(other))).status_code == 401


async def test_avatar_upload_makes_a_thumbnail_served_by_url(
    client: Client, mailbox: Mailbox
) -> None:
    _, token = await sign_up(client, mailbox)
    response = await client.post(
        "/account/v1/user/avatar",
        files={"file": ("me.png", png_bytes(), "image/png")},
        headers=bearer(token),
    )
    assert response.status_code == 200, response.text
    url = response.json()["thumbnail_url"]
    assert url.startswith("http://testserver.local/media/avatars/")
    me = (await client.get("/account/v1/user", headers=bearer(token))).json()["user"]
    assert me["avatar_url"] == url
    served = await client.get(url.removeprefix("http://testserver.local"))
    assert served.status_code == 200
    thumbnail = Image.open(io.BytesIO(served.content))
    assert max(thumbnail.size) <= 256
    # Served as the image it is, and never sniffed as anything else.
    assert served.headers["content-type"] == Image.MIME[thumbnail.format or ""]
    assert served.headers["x-content-type-options"] == "nosniff"


async def test_avatar_refuses_what_is_not_an_image(client: Client, mailbox: Mailbox) -> None:
    _, token = await sign_up(client, mailbox)
    fake = await client.post(
        "/account/v1/user/avatar",
        files={"file": ("me.png", b"GIF89a not really", "image/png")},
        headers=bearer(token),
    )
    assert fake.status_code == 400
    assert fake.json()["message"].startswith("file")
    missing = await client.post(
        "/account/v1/user/avatar",
        files={"other": ("x.png", png_bytes(), "image/png")},
        headers=bearer(token),
    )
    assert missing.status_code == 400


async def test_avatar_over_two_mebibytes_is_refused(client: Client, mailbox: Mailbox) -> None:
    _, token = await sign_up(client, mailbox)
    too_big = png_bytes() + b"\0" * (2 * 1024 * 1024)
    response = await client.post(
        "/account/v1/user/avatar",
        files={"file": ("big.png", too_big, "image/png")},
        headers=bearer(token),
    )
    assert response.status_code == 400
    assert response.json()["code"] == 3


async def test_user_delete_removes_the_account_and_its_sessions(
    client: Client, mailbox: Mailbox
) -> None:
    email, token = await sign_up(client, mailbox)
    deleted = await client.delete("/account/v1/user", headers=bearer(token))
    assert deleted.status_code == 200
    assert (await client.get("/account/v1/user", headers=bearer(token))).status_code == 401
    login = await client.post(
        "/account/v1/auth/login", json={"email": email, "password": DEFAULT_PASSWORD}
    )
    assert login.status_code == 401


async def add_member(database_url: str, tenant_id: str, user_id: str, role: Role) -> None:
    """Put a member into a tenant directly (the invitation endpoints come with tenancy)."""
    engine = create_engine(database_url, pool_size=1)
    try:
        async with SqlUnitOfWorkFactory(create_sessionmaker(engine))() as uow:
            await uow.memberships.add(
                Membership(
                    tenant_id=tenant_id, user_id=user_id, role=role, created_at=datetime.now(UTC)
                )
            )
            await uow.commit()
    finally:
        await engine.dispose()


async def test_user_delete_is_refused_for_the_sole_owner_of_a_team_with_members(
    client: Client, mailbox: Mailbox, migrated_database_url: str
) -> None:
    _, owner_token = await sign_up(client, mailbox)
    _, member_token = await sign_up(client, mailbox)
    owner = (await client.get("/account/v1/user", headers=bearer(owner_token))).json()["user"]
    member = (await client.get("/account/v1/user", headers=bearer(member_token))).json()["user"]
    await add_member(migrated_database_url, owner["current_tenant_id"], member["id"], Role.NORMAL)

    refused = await client.delete("/account/v1/user", headers=bearer(owner_token))
    assert refused.status_code == 402
    assert refused.json()["code"] == 9
    assert (await client.get("/account/v1/user", headers=bearer(owner_token))).status_code == 200

    # A member (not the sole owner) may leave by deleting their account.
    assert (
        await client.delete("/account/v1/user", headers=bearer(member_token))
    ).status_code == 200
    assert (await client.delete("/account/v1/user", headers=bearer(owner_token))).status_code == 200
