"""Helpers for the agents (and chat) e2e tests: agents from templates, API keys with scopes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar.testing import AsyncTestClient

from adapters.sql.engine import create_engine, create_sessionmaker
from adapters.sql.uow import SqlUnitOfWorkFactory
from domain.tenancy.models import Membership, Role
from tests.e2e.flows import bearer

Client = AsyncTestClient[Any]
AGENTS = "/mapping/v1/agents"
TEMPLATES = "/mapping/v1/templates"
API_KEYS = "/account/v1/tenant/api-keys"


async def create_agent(
    client: Client, credential: str, template_id: str = "faq-assistant", **body: Any
) -> dict[str, Any]:
    """CreateAgentFromTemplate as `credential` (token or API key); returns the response."""
    response = await client.post(
        AGENTS, json={"template_id": template_id, **body}, headers=bearer(credential)
    )
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    return created


async def create_api_key(client: Client, owner_token: str, *scopes: str) -> str:
    """A new API key of the owner's current tenant with `scopes`; returns its secret."""
    response = await client.post(
        API_KEYS, json={"name": "e2e", "scopes": list(scopes)}, headers=bearer(owner_token)
    )
    assert response.status_code == 200, response.text
    secret: str = response.json()["secret"]
    return secret


async def list_agents(client: Client, credential: str) -> list[dict[str, Any]]:
    response = await client.get(AGENTS, headers=bearer(credential))
    assert response.status_code == 200, response.text
    agents: list[dict[str, Any]] = response.json()["agents"]
    return agents


async def intentions_of(client: Client, credential: str, agent_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"{AGENTS}/{agent_id}/intentions", headers=bearer(credential))
    assert response.status_code == 200, response.text
    intentions: list[dict[str, Any]] = response.json()["intentions"]
    return intentions


async def leads_of(client: Client, credential: str, agent_id: str) -> dict[str, Any]:
    response = await client.get(f"{AGENTS}/{agent_id}/leads", headers=bearer(credential))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def join_as(
    database_url: str, client: Client, token: str, tenant_id: str, role: Role
) -> None:
    """Make the token's user a `role` member of `tenant_id` and switch them into it (what an
    accepted invitation does, without the emails)."""
    me = (await client.get("/account/v1/user", headers=bearer(token))).json()["user"]
    engine = create_engine(database_url)
    try:
        async with SqlUnitOfWorkFactory(create_sessionmaker(engine))() as uow:
            await uow.memberships.add(
                Membership(tenant_id, me["id"], role, created_at=datetime.now(UTC))
            )
            user = await uow.users.get(me["id"])
            assert user is not None
            user.current_tenant_id = tenant_id
            await uow.users.update(user)
            await uow.commit()
    finally:
        await engine.dispose()
