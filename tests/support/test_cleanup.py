"""A run that fails, times out or is SIGKILLed leaves no peer process and no test database.

Each test runs a small test file in a pytest of its own (`child_pytest`) and looks at what is
left once that run is over.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import textwrap
import time
from pathlib import Path

import asyncpg

from tests.services import (
    DATABASE_PREFIX,
    TestServices,
    _asyncpg_dsn,
    create_database,
    drop_database,
    drop_stale_databases,
)
from tests.support.child_pytest import child_pytest, output_of
from tests.support.peers import pid_alive, watch_database
from tests.support.waiting import eventually

# Starting a pytest that imports the project takes seconds, more on two busy cores.
CHILD_READY_WITHIN_SECONDS = 120.0
CLEANED_UP_WITHIN_SECONDS = 30.0

KILLED_RUN = """
import asyncio, json, os, subprocess, sys
from pathlib import Path

from tests.services import create_database
from tests.support.peers import spawn

SLEEP = [sys.executable, "-c", "import time; time.sleep(3600)"]
# A peer that starts a process of its own (which stays in the peer's process group).
PARENT = [sys.executable, "-c",
    "import subprocess, sys, time;"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(3600)']);"
    "print(child.pid, flush=True); time.sleep(3600)"]


async def test_starts_peers_and_a_database_then_hangs(services):
    peer = spawn(PARENT, stdout=subprocess.PIPE)
    grandchild = int(peer.stdout.readline())
    # Not started by `spawn`, in a session of its own: only the run's marker finds it.
    stray = subprocess.Popen(SLEEP, start_new_session=True)
    url = await create_database(services.admin_database_url)
    report = Path(os.environ["CHILD_REPORT"])
    partial = report.with_suffix(".partial")
    partial.write_text(json.dumps({
        "pids": [peer.pid, grandchild, stray.pid], "database": url.rsplit("/", 1)[1],
    }))
    partial.replace(report)
    await asyncio.sleep(3600)
"""

TIMED_OUT_RUN = """
import asyncio, os, sys, time
from pathlib import Path

import pytest

from tests.support.peers import spawn, stop

REPORT = Path(os.environ["CHILD_REPORT"])


@pytest.fixture
def peer(request):
    process = spawn([sys.executable, "-c", "import time; time.sleep(3600)"])
    (REPORT / f"{request.node.name}.pid").write_text(str(process.pid))
    try:
        yield process
    finally:
        stop(process)


@pytest.mark.timeout(2)
def test_a_sync_test_that_hangs(peer):
    time.sleep(3600)


@pytest.mark.timeout(2)
async def test_an_async_test_that_hangs(peer):
    try:
        await asyncio.Event().wait()
    finally:
        await asyncio.sleep(0)  # its cleanup may await: it runs as on any cancellation
        (REPORT / "async test cleaned up").touch()


@pytest.mark.timeout(2)
async def test_an_async_test_blocked_in_sync_code(peer):
    time.sleep(3600)


@pytest.mark.timeout(2)
async def test_an_async_test_that_swallows_its_cancellation(peer):
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        pass


async def test_no_task_of_a_timed_out_test_is_left_in_the_loop():
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []
"""


async def database_exists(services: TestServices, name: str) -> bool:
    conn = await asyncpg.connect(_asyncpg_dsn(services.admin_database_url), timeout=30)
    try:
        return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
    finally:
        await conn.close()


async def test_a_sigkilled_run_leaves_no_peer_and_no_database(
    tmp_path: Path, services: TestServices
) -> None:
    test_file = tmp_path / "test_killed_run.py"
    test_file.write_text(textwrap.dedent(KILLED_RUN))
    report = tmp_path / "report.json"
    with child_pytest(test_file, env={"CHILD_REPORT": str(report)}) as run:

        def ready() -> bool:
            assert run.poll() is None, f"the child run ended early:\n{output_of(test_file)}"
            return report.exists()

        await eventually(ready, "the child run starting its peers", CHILD_READY_WITHIN_SECONDS)
        started = json.loads(report.read_text())
        pids, database = started["pids"], started["database"]
        assert all(map(pid_alive, pids))
        assert await database_exists(services, database)

        os.kill(run.pid, signal.SIGKILL)  # no finalizer, no atexit: only the guard is left
        run.wait()

        await eventually(
            lambda: not any(map(pid_alive, pids)),
            "the killed run's peers ending",
            CLEANED_UP_WITHIN_SECONDS,
        )

        async def dropped() -> bool:
            return not await database_exists(services, database)

        await eventually(dropped, "the killed run's database dropped", CLEANED_UP_WITHIN_SECONDS)


async def test_timed_out_tests_fail_alone_and_stop_their_peers(tmp_path: Path) -> None:
    test_file = tmp_path / "test_timed_out_run.py"
    test_file.write_text(textwrap.dedent(TIMED_OUT_RUN))
    report = tmp_path / "report"
    report.mkdir()
    with child_pytest(test_file, env={"CHILD_REPORT": str(report)}) as run:
        await eventually(
            lambda: run.poll() is not None,
            "the child run ending",
            CHILD_READY_WITHIN_SECONDS,
            every=0.2,
        )
    output = output_of(test_file)
    assert run.returncode == 1, output
    assert "4 failed, 1 passed" in output, output
    assert output.count("Timeout (>2.0s) from pytest-timeout") >= 4, output
    # The async tests ended by cancellation: its own cleanup ran, nothing was left pending.
    assert (report / "async test cleaned up").exists(), output
    assert "the test's task was cancelled" in output, output

    pids = [int(path.read_text()) for path in report.glob("*.pid")]
    assert len(pids) == 4, output
    assert not any(map(pid_alive, pids)), "a peer of a timed-out test is still running"


async def test_the_sweep_drops_databases_of_long_gone_runs_and_keeps_current_ones(
    services: TestServices,
) -> None:
    # As a run that died two hours ago, with its guard, would have left it.
    leftover = f"{DATABASE_PREFIX}{int(time.time()) - 7200}_{secrets.token_hex(4)}"
    admin_dsn = _asyncpg_dsn(services.admin_database_url)
    watch_database(admin_dsn, leftover)  # dropped by our guard should this test fail
    conn = await asyncpg.connect(admin_dsn, timeout=30)
    try:
        await conn.execute(f'CREATE DATABASE "{leftover}"')
    finally:
        await conn.close()
    current = await create_database(services.admin_database_url)
    try:
        dropped = await drop_stale_databases(services.admin_database_url)
        assert leftover in dropped
        assert not await database_exists(services, leftover)
        assert await database_exists(services, current.rsplit("/", 1)[1])
    finally:
        await drop_database(services.admin_database_url, current)
