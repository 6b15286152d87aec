"""Helpers for the tenancy e2e tests: tenants, invitations and the links emailed for them."""

from __future__ import annotations

import re
from typing import Any

from litestar.testing import AsyncTestClient

from tests.e2e.flows import bearer
from tests.support.mailbox import Mailbox

Client = AsyncTestClient[Any]
INVITE_LINK = re.compile(r"(http://app\.test/invite\?invite_token=[A-Za-z0-9_\-%]+)")


async def current_tenant(client: Client, token: str) -> dict[str, Any]:
    response = await client.get("/account/v1/user/tenants/current", headers=bearer(token))
    assert response.status_code == 200, response.text
    tenant: dict[str, Any] = response.json()["tenant"]
    return tenant


async def invite(client: Client, token: str, *members: tuple[str, str]) -> list[dict[str, Any]]:
    response = await client.post(
        "/account/v1/tenant/members/invite",
        json={"members": [{"email": email, "role": role} for email, role in members]},
        headers=bearer(token),
    )
    assert response.status_code == 200, response.text
    rets: list[dict[str, Any]] = response.json()["rets"]
    return rets


async def emailed_invite_link(mailbox: Mailbox, email: str, count: int = 1) -> str:
    """The invitation link in the `count`-th email to `email`, as the person would click it."""
    message = await mailbox.wait_for(email, count)
    match = INVITE_LINK.search(message.text)
    assert match, f"no invitation link in: {message.text!r}"
    return match.group(1)


def token_in(link: str) -> str:
    return link.split("invite_token=", 1)[1]


async def members(client: Client, token: str) -> dict[str, dict[str, Any]]:
    """The current tenant's member list by email."""
    response = await client.get("/account/v1/tenant/members", headers=bearer(token))
    assert response.status_code == 200, response.text
    return {m["email"]: m for m in response.json()["members"]}


async def switch(client: Client, token: str, tenant_id: str) -> dict[str, Any]:
    response = await client.post(
        "/account/v1/user/tenants/switch", json={"tenant_id": tenant_id}, headers=bearer(token)
    )
    assert response.status_code == 200, response.text
    info: dict[str, Any] = response.json()["tenant_info"]
    return info


def assert_error(response: Any, status: int, code: int) -> None:
    assert response.status_code == status, response.text
    assert response.json()["code"] == code, response.text
