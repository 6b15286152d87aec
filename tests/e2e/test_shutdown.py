"""`astra serve` on SIGTERM with streams open: a bounded, graceful shutdown.

The process stops taking connections at once (refused, never left hanging), lets the open
streams go on for `ASTRA_SHUTDOWN_GRACE_SECONDS`, then ends each with an `error` event `14`,
settles what was streamed and exits — long before a SIGKILL would come. Run as in production
(PostgreSQL, Redis, two workers behind uvicorn's supervisor) and on the embedded default.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from adapters.sql.migrate import upgrade
from bench.infra import REDIS_URL, Server, redis_prefix, throwaway_database
from tests.e2e.chat_flows import Client, chat_tenant, fake_upstream, set_balance
from tests.integration.faults.ledger_audit import audit_ledger
from tests.integration.faults.serving import astra_serve, open_streams, serve_env
from tests.support.mailbox import running_mailbox

pytestmark = pytest.mark.integration

STREAMS = 6
CREDITS = 50
GRACE_SECONDS = 3
# Ending and settling the turns after the grace period, and the process exiting.
EXIT_AFTER_GRACE_SECONDS = 15
REFUSED_WITHIN_SECONDS = 3.0
PROBE_TIMEOUT_SECONDS = 2.0


async def probe_until_refused(base_url: str, sent_at: float) -> list[str]:
    """New connections after SIGTERM: each is refused, or answered 503; none may hang."""
    outcomes: list[str] = []
    limits = httpx.Limits(max_keepalive_connections=0)  # a new connection every time
    async with httpx.AsyncClient(
        base_url=base_url, timeout=PROBE_TIMEOUT_SECONDS, limits=limits
    ) as client:
        while time.monotonic() - sent_at < REFUSED_WITHIN_SECONDS + PROBE_TIMEOUT_SECONDS:
            try:
                response = await client.get("/readyz")
            except httpx.ConnectError:
                outcomes.append("refused")
                return outcomes
            except httpx.TimeoutException:
                outcomes.append("hung")
                return outcomes
            except httpx.TransportError:
                outcomes.append("reset")  # accepted, then closed unanswered: also a refusal
            else:
                outcomes.append(str(response.status_code))
            await asyncio.sleep(0.02)
    outcomes.append("still accepting")
    return outcomes


async def sigterm_with_streams_open(server: Server, http: httpx.AsyncClient, tenant: Any) -> None:
    streams = await open_streams(http, tenant, STREAMS)
    assert not any(stream.done() for stream in streams), [s.result() for s in streams if s.done()]

    sent_at = time.monotonic()
    os.kill(server.pid, signal.SIGTERM)  # to the main process only, as Kubernetes does
    probes = await probe_until_refused(server.base_url, sent_at)
    assert probes[-1] == "refused", probes
    assert set(probes) <= {"refused", "reset", "503"}, probes

    async with asyncio.timeout(GRACE_SECONDS + EXIT_AFTER_GRACE_SECONDS):
        ended = await asyncio.gather(*streams)
        streams_ended_after = time.monotonic() - sent_at
        await asyncio.to_thread(server.process.wait)
    exited_after = time.monotonic() - sent_at
    # uvicorn re-raises the signal it shut down for once done: a single worker ends "killed by
    # SIGTERM" as a plain process would, the supervisor with 0.
    assert server.process.returncode in (0, -signal.SIGTERM), server.log_tail()
    # The streams had their grace period: they went on streaming, then ended with `14`.
    assert streams_ended_after >= GRACE_SECONDS - 0.5, streams_ended_after
    for events in ended:
        last = json.loads(events[-1])
        assert last["event"] == "error", events[-3:]
        assert (last["code"], last["status"]) == (14, 503), last
        assert sum('"event": "message"' in e or '"event":"message"' in e for e in events) > 1
    assert exited_after < GRACE_SECONDS + EXIT_AFTER_GRACE_SECONDS
    print(f"probes {probes}; streams ended {streams_ended_after:.1f} s, exit {exited_after:.1f} s")


async def assert_all_settled(database_url: str, tenant_id: str) -> None:
    audit = await audit_ledger(database_url, tenant_id)
    assert (audit.reserved_holds, audit.pending_replies, audit.misbilled) == (0, 0, 0), audit
    assert audit.balanced, audit
    # Every stream had output before it was ended: each is charged, by the rule, once.
    assert audit.available == CREDITS - STREAMS, audit


@asynccontextmanager
async def served(
    tmp_path: Path, database_url: str, extra: dict[str, str], workers: int = 1
) -> AsyncIterator[tuple[Server, Any]]:
    with running_mailbox() as mailbox:
        # 40 s replies: every stream is mid-way when the grace period ends.
        async with fake_upstream(tmp_path, tokens=400, delay_ms=100) as upstream:
            env = serve_env(tmp_path, database_url, upstream, mailbox.port)
            env.update({"ASTRA_SHUTDOWN_GRACE_SECONDS": str(GRACE_SECONDS), **extra})
            async with (
                astra_serve(tmp_path, env, "astra-sigterm", workers=workers) as server,
                httpx.AsyncClient(base_url=server.base_url, timeout=30.0) as http,
            ):
                tenant = await chat_tenant(cast(Client, http), mailbox)
                await set_balance(cast(Client, http), tenant, CREDITS)
                yield server, (http, tenant)


async def test_sigterm_on_two_workers_with_postgres_and_redis(tmp_path: Path) -> None:
    async with throwaway_database() as database_url, redis_prefix() as prefix:
        await upgrade(database_url)
        extra = {"ASTRA_REDIS_URL": REDIS_URL, "ASTRA_REDIS_PREFIX": prefix}
        # `--workers 2`: uvicorn's supervisor owns the listening socket the workers share.
        async with served(tmp_path, database_url, extra, workers=2) as (server, (http, tenant)):
            await sigterm_with_streams_open(server, http, tenant)
        await assert_all_settled(database_url, tenant.tenant_id)


async def test_sigterm_on_the_embedded_default(tmp_path: Path) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'astra.db'}"
    async with served(tmp_path, database_url, {}) as (server, (http, tenant)):
        await sigterm_with_streams_open(server, http, tenant)
    await assert_all_settled(database_url, tenant.tenant_id)


def test_kubernetes_gives_the_drain_time_to_finish() -> None:
    """`terminationGracePeriodSeconds` covers preStop + the grace period + settling."""
    import yaml  # type: ignore[import-untyped]  # no stubs; used only to read a manifest

    from entrypoints.cli import SETTLE_AFTER_GRACE_SECONDS

    manifest = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "api.yaml"
    documents = [d for d in yaml.safe_load_all(manifest.read_text()) if d]
    api = next(
        d for d in documents if d["metadata"]["name"] == "astra-api" and d["kind"] == "Deployment"
    )
    pod = api["spec"]["template"]["spec"]
    container = next(c for c in pod["containers"] if c["name"] == "api")
    pre_stop = int(container["lifecycle"]["preStop"]["exec"]["command"][1])
    env = {e["name"]: e["value"] for e in container.get("env", [])}
    grace = float(env["ASTRA_SHUTDOWN_GRACE_SECONDS"])
    assert grace < 30  # below Kubernetes' default, as the setting's default is
    assert pod["terminationGracePeriodSeconds"] > pre_stop + grace + SETTLE_AFTER_GRACE_SECONDS
