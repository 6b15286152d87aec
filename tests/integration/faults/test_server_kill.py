"""`astra serve` killed (SIGKILL) with streams open: nothing ends those turns in the dying
process, so after a restart recovery must — on the embedded default (SQLite), where the
serving process runs recovery itself.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import cast

import httpx

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
from tests.integration.faults.ledger_audit import audit_ledger
from tests.integration.faults.serving import (
    RECOVERED_WITHIN,
    astra_serve,
    open_streams,
    serve_env,
)
from tests.support.mailbox import running_mailbox

STREAMS = 10
CREDITS = 50


async def kill_mid_stream(server: Server, http: httpx.AsyncClient, tenant: ChatTenant) -> None:
    """Open STREAMS streaming turns, SIGKILL the server once each has sent an event."""
    streams = await open_streams(http, tenant, STREAMS)
    os.killpg(server.pid, signal.SIGKILL)
    await asyncio.to_thread(server.process.wait, 10)
    async with asyncio.timeout(10):
        cut = await asyncio.gather(*streams)
    assert all(events for events in cut)
    assert not any('"message_end"' in data for events in cut for data in events)


async def test_streams_cut_by_sigkill_are_released_by_recovery_after_a_restart(
    tmp_path: Path,
) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'astra.db'}"
    with running_mailbox() as mailbox:
        # 40 s replies: every stream is mid-way when the server dies.
        async with fake_upstream(tmp_path, tokens=400, delay_ms=100) as upstream:
            env = serve_env(tmp_path, database_url, upstream, mailbox.port)
            async with (
                astra_serve(tmp_path, env, "astra-killed") as server,
                httpx.AsyncClient(base_url=server.base_url, timeout=30.0) as http,
            ):
                tenant = await chat_tenant(cast(Client, http), mailbox)
                await set_balance(cast(Client, http), tenant, CREDITS)
                await kill_mid_stream(server, http, tenant)

            # Killed: nothing was ended, the credits are still held.
            dead = await audit_ledger(database_url, tenant.tenant_id)
            assert (dead.reserved_holds, dead.pending_replies) == (STREAMS, STREAMS)
            assert dead.balanced

            async with astra_serve(tmp_path, env, "astra-restarted") as server:
                async with asyncio.timeout(RECOVERED_WITHIN):
                    while True:
                        after = await audit_ledger(database_url, tenant.tenant_id)
                        if after.reserved_holds == 0 and after.pending_replies == 0:
                            break
                        await asyncio.sleep(0.25)
                assert after.balanced
                assert after.misbilled == 0
                # No output was stored before the kill: nothing is charged.
                assert (after.held, after.available) == (0, CREDITS)

                # The restarted service chats and charges as usual.
                await configure_upstream(upstream, tokens=3, delay_ms=0)
                async with httpx.AsyncClient(base_url=server.base_url, timeout=30.0) as http:
                    answered = await http.post(CHAT, json=tenant.turn("hi"), headers=tenant.key)
                    assert answered.status_code == 200, answered.text
                final = await audit_ledger(database_url, tenant.tenant_id)
                assert final.spent - after.spent == 1
                assert (final.available, final.misbilled) == (CREDITS - 1, 0)
