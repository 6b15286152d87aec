"""PostgreSQL restarted (`pg_ctl restart -m fast`) under chat traffic, as production runs:
`astra serve --workers 2` on PostgreSQL + Redis, and `astra worker` running recovery.

While the database is away, clients see only 200/402/429/503 (never 500); afterwards the
service answers again, and within one recovery deadline no credit is held, no reply is
pending, and every credit is accounted for by the chat charging rule.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import httpx
import pytest

from bench.infra import REDIS_URL, redis_prefix
from tests.e2e.chat_flows import Client, chat_tenant, fake_upstream, set_balance
from tests.faults_support import PrivatePostgres, private_postgres
from tests.integration.faults.serving import (
    Traffic,
    astra_serve,
    astra_worker,
    chat_loop,
    serve_env,
    wait_until_recovered,
)
from tests.support.mailbox import running_mailbox

pytestmark = pytest.mark.integration

LOOPS = 16
CREDITS = 100_000
ANSWERS_BEFORE_AND_AFTER = 20


@pytest.fixture
def cluster() -> Iterator[PrivatePostgres]:
    with private_postgres() as running:
        yield running


async def test_a_database_restart_mid_traffic_loses_no_credit(
    tmp_path: Path, cluster: PrivatePostgres
) -> None:
    database_url = await cluster.migrated_database(f"astra_restart_{secrets.token_hex(4)}")
    async with redis_prefix() as prefix:
        with running_mailbox() as mailbox:
            async with fake_upstream(tmp_path, tokens=10, delay_ms=30) as upstream:
                env = serve_env(tmp_path, database_url, upstream, mailbox.port)
                env.update({"ASTRA_REDIS_URL": REDIS_URL, "ASTRA_REDIS_PREFIX": prefix})
                async with (
                    astra_serve(tmp_path, env, "astra-pg-restart", workers=2) as server,
                    astra_worker(tmp_path, env),
                    httpx.AsyncClient(base_url=server.base_url, timeout=60.0) as http,
                ):
                    tenant = await chat_tenant(cast(Client, http), mailbox)
                    await set_balance(cast(Client, http), tenant, CREDITS)
                    traffic, stop = Traffic(), asyncio.Event()

                    def body(mode: str) -> dict[str, object]:
                        return tenant.turn("hi", mode)

                    loops = [
                        asyncio.create_task(chat_loop(http, tenant.key, body, traffic, stop))
                        for _ in range(LOOPS)
                    ]
                    try:
                        await traffic.wait_for(200, ANSWERS_BEFORE_AND_AFTER, 0)
                        await asyncio.to_thread(cluster.stop, "fast")
                        await asyncio.to_thread(cluster.start)
                        restarted_at = len(traffic.statuses)
                        await traffic.wait_for(200, ANSWERS_BEFORE_AND_AFTER, restarted_at)
                    finally:
                        stop.set()
                        await asyncio.gather(*loops)
                    traffic.assert_only_allowed()
                    audit = await wait_until_recovered(database_url, tenant.tenant_id)
    print("statuses", sorted(Counter(traffic.statuses).items()), "stream errors",
          sorted(Counter(traffic.stream_errors).items()), audit)  # fmt: skip
    assert audit.balanced, audit
    assert audit.misbilled == 0, audit
    # Credits charged = credits delivered: one per answered turn (a stream cut by an error
    # event may or may not have delivered output first).
    answered = sum(status == 200 for status in traffic.statuses)
    assert answered - len(traffic.stream_errors) <= audit.spent <= answered, (audit, answered)
