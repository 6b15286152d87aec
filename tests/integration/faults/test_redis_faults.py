"""Redis stopped, or frozen (SIGSTOP), while chat turns run: `astra serve` on the embedded
SQLite database (which runs recovery itself) with limits in a private Redis.

Clients see only 200/402/429/503; an end user's concurrency slot is free again within 30 s
of their turn ending whatever Redis did in between; afterwards nothing is held or pending
and the ledger balances.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from httpx_sse import aconnect_sse

from bench.infra import Server
from tests.e2e.chat_flows import (
    CHAT,
    ChatTenant,
    Client,
    chat_tenant,
    configure_upstream,
    fake_upstream,
    set_balance,
)
from tests.faults_support import PrivateRedis, private_redis
from tests.integration.faults.serving import (
    ALLOWED_STATUSES,
    Traffic,
    astra_serve,
    chat_loop,
    serve_env,
    wait_until_recovered,
)
from tests.support.mailbox import running_mailbox

pytestmark = pytest.mark.integration

CREDITS = 10_000
LOOPS = 6
FROZEN_SECONDS = 15
SLOT_FREED_WITHIN_SECONDS = 30


@pytest.fixture
def redis_server() -> Iterator[PrivateRedis]:
    with private_redis() as server:
        yield server


@asynccontextmanager
async def serving(
    tmp_path: Path, redis_server: PrivateRedis
) -> AsyncIterator[tuple[Server, httpx.AsyncClient, ChatTenant, Any]]:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'astra.db'}"
    with running_mailbox() as mailbox:
        async with fake_upstream(tmp_path, tokens=20, delay_ms=100) as upstream:
            env = serve_env(tmp_path, database_url, upstream, mailbox.port)
            env["ASTRA_REDIS_URL"] = redis_server.url
            async with (
                astra_serve(tmp_path, env, "astra-redis-faults") as server,
                httpx.AsyncClient(base_url=server.base_url, timeout=60.0) as http,
            ):
                tenant = await chat_tenant(cast(Client, http), mailbox)
                await set_balance(cast(Client, http), tenant, CREDITS)
                yield server, http, tenant, (database_url, upstream)


async def stream_to_the_end(http: httpx.AsyncClient, tenant: ChatTenant, body: dict[str, Any],
                            first: asyncio.Event) -> list[str]:  # fmt: skip
    events: list[str] = []
    async with aconnect_sse(http, "POST", CHAT, json=body, headers=tenant.key) as source:
        assert source.response.status_code == 200, await source.response.aread()
        async for event in source.aiter_sse():
            events.append(event.data)
            first.set()
    return events


async def test_a_frozen_redis_never_sticks_an_end_users_slot(
    tmp_path: Path, redis_server: PrivateRedis
) -> None:
    async with serving(tmp_path, redis_server) as (_, http, tenant, (database_url, _)):
        user = tenant.turn("hi", "streaming")["external_user_id"]
        first = asyncio.Event()
        # A 2 s reply; Redis freezes while it streams, so its end cannot free the slot.
        stream = asyncio.create_task(
            stream_to_the_end(
                http, tenant, tenant.turn("hi", "streaming", external_user_id=user), first
            )
        )
        async with asyncio.timeout(30):
            await first.wait()
        frozen_at = time.monotonic()
        redis_server.freeze()
        statuses: list[int] = []
        try:
            async with asyncio.timeout(60):
                events = await stream
            turn_ended = time.monotonic()
            assert events, "the stream ended without an event"
            # While frozen, another turn of the same user cannot be let in: 503 (or 429).
            while time.monotonic() - frozen_at < FROZEN_SECONDS:
                response = await http.post(CHAT, json=tenant.turn("hi", external_user_id=user),
                                           headers=tenant.key)  # fmt: skip
                statuses.append(response.status_code)
                await asyncio.sleep(0.5)
        finally:
            redis_server.thaw()
        # Thawed: the slot is free again within 30 s of the turn's end.
        async with asyncio.timeout(SLOT_FREED_WITHIN_SECONDS + 30):
            while True:
                response = await http.post(CHAT, json=tenant.turn("hi", external_user_id=user),
                                           headers=tenant.key)  # fmt: skip
                statuses.append(response.status_code)
                if response.status_code == 200:
                    break
                await asyncio.sleep(0.25)
        freed_after = time.monotonic() - turn_ended
        assert freed_after <= SLOT_FREED_WITHIN_SECONDS, freed_after
        assert set(statuses) <= ALLOWED_STATUSES, statuses
        audit = await wait_until_recovered(database_url, tenant.tenant_id)
    print(f"slot free {freed_after:.1f} s after the turn ended; statuses {statuses}; {audit}")
    assert audit.balanced, audit
    assert audit.misbilled == 0, audit


async def test_redis_stopped_and_restarted_mid_traffic_loses_no_credit(
    tmp_path: Path, redis_server: PrivateRedis
) -> None:
    async with serving(tmp_path, redis_server) as (_, http, tenant, (database_url, upstream)):
        await configure_upstream(upstream, tokens=5, delay_ms=40)
        traffic, stop = Traffic(), asyncio.Event()

        def body(mode: str) -> dict[str, object]:
            return tenant.turn("hi", mode)

        loops = [
            asyncio.create_task(chat_loop(http, tenant.key, body, traffic, stop))
            for _ in range(LOOPS)
        ]
        try:
            await traffic.wait_for(200, 10, 0)
            await asyncio.to_thread(redis_server.stop)
            down_at = len(traffic.statuses)
            await traffic.wait_for(503, 5, down_at)
            await asyncio.to_thread(redis_server.start)
            await traffic.wait_for(200, 10, len(traffic.statuses))
        finally:
            stop.set()
            await asyncio.gather(*loops)
        traffic.assert_only_allowed()
        assert 503 in traffic.statuses[down_at:]
        audit = await wait_until_recovered(database_url, tenant.tenant_id)
    assert audit.balanced, audit
    assert audit.misbilled == 0, audit
