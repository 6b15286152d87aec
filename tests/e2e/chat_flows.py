"""Helpers for the black-box chat tests: Astra served over a real socket, the fake OpenAI
upstream as a subprocess, and a tenant ready to chat (agent, `chat:write` key, credits)."""

from __future__ import annotations

import asyncio
import secrets
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from litestar import Litestar
from litestar.testing import AsyncTestClient

from bench.infra import Server, clean_environment, free_port, running_server
from entrypoints.app import create_app
from entrypoints.settings import Settings
from tests.e2e.agent_flows import create_agent, create_api_key
from tests.e2e.flows import bearer, sign_up
from tests.e2e.tenancy_flows import current_tenant
from tests.support.mailbox import Mailbox

Client = AsyncTestClient[Any]
INTERNAL_KEY = "internal-key-for-the-chat-e2e-tests-0123456789"
INTERNAL = bearer(INTERNAL_KEY)
CHAT = "/chat/v1/messages"
STARTUP_SECONDS = 30.0


def chat_settings(base: Settings, llm_base_url: str, model: str, **changes: object) -> Settings:
    """The e2e settings with the `openai` backend at `llm_base_url` and an internal key."""
    llm = replace(base.llm, backend="openai", base_url=llm_base_url, model=model)
    return base.with_overrides(llm=llm, internal_api_keys=(INTERNAL_KEY,), **changes)


@asynccontextmanager
async def serving(app: Litestar) -> AsyncIterator[str]:
    """Serve `app` with uvicorn on a loopback port in this event loop; yields its base URL.

    A real socket, unlike the in-process test client: streamed bytes arrive as they are sent
    and closing the client connection is a real disconnect the server has to notice.
    """
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(STARTUP_SECONDS):
            while not server.started:
                if task.done():
                    task.result()  # raises what stopped start-up
                    raise RuntimeError("uvicorn stopped during start-up")
                await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def live_astra(settings: Settings) -> AsyncIterator[str]:
    async with serving(create_app(settings)) as base_url:
        yield base_url


@asynccontextmanager
async def fake_upstream(log_dir: Path, tokens: int, delay_ms: float) -> AsyncIterator[Server]:
    """`bench/fake_openai_upstream.py` as a subprocess; its base URL has no `/v1`."""
    port = free_port()
    argv = [sys.executable, "-m", "bench.fake_openai_upstream", "--port", str(port)]
    argv += ["--tokens", str(tokens), "--delay-ms", str(delay_ms)]
    async with running_server(
        f"fake-upstream-{port}", argv, port, clean_environment({}), log_dir, "/v1/models"
    ) as server:
        yield server


async def upstream_stats(upstream: Server) -> dict[str, int]:
    async with httpx.AsyncClient(base_url=upstream.base_url, timeout=5.0) as http:
        response = await http.get("/_stats")
        assert response.status_code == 200, response.text
        stats: dict[str, int] = response.json()
        return stats


async def configure_upstream(upstream: Server, **options: float) -> None:
    async with httpx.AsyncClient(base_url=upstream.base_url, timeout=5.0) as http:
        response = await http.put("/_config", json=options)
        assert response.status_code == 200, response.text


@dataclass(frozen=True)
class ChatTenant:
    tenant_id: str
    token: str
    agent_id: str
    api_key: str

    @property
    def key(self) -> dict[str, str]:
        return bearer(self.api_key)

    def turn(self, message: str, mode: str = "blocking", **fields: Any) -> dict[str, Any]:
        """A Chat request body for a new conversation of a new end user unless given."""
        body: dict[str, Any] = {
            "agent_id": self.agent_id,
            "external_user_id": f"user-{secrets.token_hex(4)}",
            "message_content": message,
            "response_mode": mode,
        }
        return body | fields


async def chat_tenant(
    client: Client, mailbox: Mailbox, config: dict[str, Any] | None = None
) -> ChatTenant:
    """A signed-up owner with one agent (FAQ template, `config` applied) and a chat key."""
    _, token = await sign_up(client, mailbox)
    tenant_id = (await current_tenant(client, token))["id"]
    agent_id = (await create_agent(client, token, name="Chat agent"))["agent_id"]
    if config is not None:
        updated = await client.put(
            f"/mapping/v1/agents/{agent_id}/config", json={"config": config}, headers=bearer(token)
        )
        assert updated.status_code == 200, updated.text
    api_key = await create_api_key(client, token, "chat:write")
    return ChatTenant(tenant_id, token, agent_id, api_key)


async def credit_usage(client: Client, tenant: ChatTenant) -> dict[str, str]:
    """The tenant's USAGE_CREDIT config (total_amount / used_amount as int64 strings)."""
    response = await client.get(
        f"/usage/v1/tenants/{tenant.tenant_id}/usage", headers=bearer(tenant.token)
    )
    assert response.status_code == 200, response.text
    configs = response.json()["config"]["usage_configs"]
    credit: dict[str, str] = next(c for c in configs if c["category"] == "USAGE_CREDIT")
    return credit


async def balance(client: Client, tenant: ChatTenant) -> int:
    credit = await credit_usage(client, tenant)
    return int(credit["total_amount"]) - int(credit["used_amount"])


async def set_balance(client: Client, tenant: ChatTenant, credits: int) -> None:
    """Move the tenant's available credits to exactly `credits` (AdjustTenantCredits)."""
    change = credits - await balance(client, tenant)
    if change:
        response = await client.post(
            f"/usage/internal/v1/tenants/{tenant.tenant_id}/credits",
            json={"amount": change, "reason": "chat e2e"},
            headers=INTERNAL,
        )
        assert response.status_code == 200, response.text
        assert response.json()["balance"] == str(credits), response.text


async def agent_credits(client: Client, tenant: ChatTenant) -> str:
    response = await client.get(
        f"/usage/v1/tenants/{tenant.tenant_id}/agents/{tenant.agent_id}/credits",
        headers=bearer(tenant.token),
    )
    assert response.status_code == 200, response.text
    credits: str = response.json()["credits"]
    return credits


async def conversation_messages(
    http: httpx.AsyncClient, tenant: ChatTenant, conversation_id: str
) -> list[dict[str, Any]]:
    response = await http.get(
        f"/chat/v1/conversations/{conversation_id}/messages", headers=tenant.key
    )
    assert response.status_code == 200, response.text
    messages: list[dict[str, Any]] = response.json()["messages"]
    return messages
