"""(f) Throughput and latency of `GET /mapping/v1/agents` with an API key, against bare Litestar."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

import httpx

from adapters.sql.engine import create_engine, create_sessionmaker
from adapters.sql.uow import SqlUnitOfWorkFactory
from application.agents.templates import BundledTemplateCatalog
from bench.astra import AstraDeployment, astra_deployment, json_ok, sign_up
from bench.report import BenchOptions, Row, main_for
from bench.user_get import measure_bare
from bench.wrk import WRK_INSTALL_HINT, WrkResult, run_wrk, wrk_available
from domain.agents.models import Agent, AgentConfigVersion

NAME = "f. GET /mapping/v1/agents"
CONNECTIONS = 64
TARGET_RATIO = 0.35
AGENTS_PATH = "/mapping/v1/agents"
AGENT_COUNT = 20
VIA_API = 3  # what the new tenant's trial plan allows; the rest go straight into the database


async def _seed_agents(database_url: str, tenant_id: str, count: int) -> None:
    """Agents beyond the plan's limit, written as CreateAgentFromTemplate would write them."""
    template = BundledTemplateCatalog.bundled().list()[0]
    engine = create_engine(database_url)
    try:
        async with SqlUnitOfWorkFactory(create_sessionmaker(engine))() as uow:
            for index in range(count):
                now = datetime.now(UTC)
                agent_id = f"bench-agent-{index:02d}-{secrets.token_hex(4)}"
                await uow.agents.add(
                    Agent(
                        id=agent_id,
                        tenant_id=tenant_id,
                        name=f"Bench agent {index}",
                        description=template.description,
                        template_id=template.id,
                        agent_type=template.agent_type,
                        business_type="retail",
                        url="https://shop.example",
                        knowledge_base_ids={"main": f"kb-{index}"},
                        created_at=now,
                        updated_at=now,
                    )
                )
                await uow.agent_configs.add(
                    AgentConfigVersion(
                        id=f"{agent_id}-v1",
                        tenant_id=tenant_id,
                        agent_id=agent_id,
                        version=1,
                        config=template.config,
                        user_id="",
                        model_known=True,
                        created_at=now,
                    )
                )
            await uow.commit()
    finally:
        await engine.dispose()


async def _tenant_with_agents(deployment: AstraDeployment) -> str:
    """A signed-up tenant with `AGENT_COUNT` agents; returns an `agents:read` API key."""
    _, token = await sign_up(deployment)
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=deployment.base_url, timeout=30.0) as client:
        user = json_ok(await client.get("/account/v1/user", headers=auth))["user"]
        assert isinstance(user, dict)
        tenant_id = str(user["current_tenant_id"])
        for template in ("faq-assistant", "lead-qualification", "customer-support")[:VIA_API]:
            json_ok(await client.post(AGENTS_PATH, json={"template_id": template}, headers=auth))
        await _seed_agents(deployment.database_url, tenant_id, AGENT_COUNT - VIA_API)
        key = json_ok(
            await client.post(
                "/account/v1/tenant/api-keys",
                json={"name": "bench", "scopes": ["agents:read"]},
                headers=auth,
            )
        )
        secret = str(key["secret"])
        # Prove the key and the data before measuring, so errors never pass for speed.
        listed = json_ok(
            await client.get(AGENTS_PATH, headers={"Authorization": f"Bearer {secret}"})
        )
        agents = listed["agents"]
        assert isinstance(agents, list)
        if len(agents) != AGENT_COUNT:
            raise RuntimeError(f"expected {AGENT_COUNT} agents, listed {len(agents)}")
    return secret


async def _measure(url: str, options: BenchOptions, headers: Sequence[str]) -> WrkResult:
    await run_wrk(url, connections=CONNECTIONS, duration_s=options.warmup_s, headers=headers)
    return await run_wrk(
        url, connections=CONNECTIONS, duration_s=options.duration_s, headers=headers
    )


async def measure_astra(options: BenchOptions) -> WrkResult:
    async with astra_deployment() as deployment:
        secret = await _tenant_with_agents(deployment)
        url = f"{deployment.base_url}{AGENTS_PATH}"
        return await _measure(url, options, [f"Authorization: Bearer {secret}"])


def _rows(label: str, result: WrkResult) -> list[Row]:
    note = ""
    if result.errors:
        note = f"{result.non_2xx} non-2xx responses, {result.socket_errors} socket errors"
    return [
        Row(NAME, f"{label} req/s", f"{result.requests_per_s:,.0f}", note=note),
        Row(NAME, f"{label} p50 / p99", f"{result.p50_ms:.1f} / {result.p99_ms:.1f} ms"),
    ]


async def run(options: BenchOptions) -> list[Row]:
    if not wrk_available():
        return [
            Row(NAME, "agents/bare req/s ratio", "-", f">= {TARGET_RATIO}", note=WRK_INSTALL_HINT)
        ]
    astra = await measure_astra(options)
    bare = await measure_bare(options)
    ratio = astra.requests_per_s / bare.requests_per_s if bare.requests_per_s else 0.0
    valid = astra.errors == 0 and bare.errors == 0
    verdict = Row(
        NAME,
        "agents/bare req/s ratio",
        f"{ratio:.2f}",
        f">= {TARGET_RATIO}",
        passed=valid and ratio >= TARGET_RATIO,
        note="" if valid else "errors during the load: the ratio is not valid",
    )
    return [*_rows(f"astra agents ({AGENT_COUNT})", astra), *_rows("bare", bare), verdict]


def main(argv: Sequence[str] | None = None) -> int:
    return main_for(NAME, run, __doc__ or NAME, argv)


if __name__ == "__main__":
    raise SystemExit(main())
