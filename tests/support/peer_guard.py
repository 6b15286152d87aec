"""The guard process of one test run: cleans up after the run however the run ended.

Started by `tests.support.peers.start_guard()` as `python peer_guard.py MARKER`, in a session of
its own, with a pipe as stdin whose only writer is the test process. The test process tells it,
one JSON object a line, which process groups and databases it created and which it has cleaned
up itself. The pipe reaches EOF when the test process is gone — finished, crashed, killed by
SIGKILL or by pytest-timeout's thread method (`os._exit`), which run no finalizer — and the
guard then:

1. kills every process group still registered, and every process whose environment carries
   `PYTEST_ASTRA_RUN=MARKER` (a subprocess started by anyone during the run, e.g. a fake
   upstream started by bench helpers, inherits it); SIGTERM first, SIGKILL for what lingers;
2. drops every database still registered.

It imports nothing from the project, so it runs as a plain script.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path

MARKER_VARIABLE = "PYTEST_ASTRA_RUN"
TERM_GRACE_SECONDS = 5.0
DROP_TIMEOUT_SECONDS = 15.0


def main() -> None:
    marker = sys.argv[1]
    # Ignore what the run's terminal or pipeline may send when the run dies: cleaning up is
    # the point of this process. A closed stderr then raises instead of killing it.
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    groups: set[int] = set()
    databases: dict[str, str] = {}
    for line in sys.stdin.buffer:
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if "group" in message:
            groups.add(int(message["group"]))
        elif "forget_group" in message:
            groups.discard(int(message["forget_group"]))
        elif "database" in message:
            databases[str(message["database"])] = str(message["admin_dsn"])
        elif "forget_database" in message:
            databases.pop(str(message["forget_database"]), None)
    killed = _terminate(groups, _marked_processes(marker))
    dropped = asyncio.run(_drop(databases)) if databases else []
    if killed or dropped:
        with contextlib.suppress(OSError):
            print(
                f"test peer guard: killed leftover processes {sorted(killed)}, "
                f"dropped leftover databases {dropped}",
                file=sys.stderr,
            )


def _marked_processes(marker: str) -> set[int]:
    """Processes (other than this one) started during the run, found by their environment."""
    wanted = f"{MARKER_VARIABLE}={marker}".encode()
    found: set[int] = set()
    proc = Path("/proc")
    if not proc.is_dir():  # not Linux: only the registered process groups are known
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environment = (entry / "environ").read_bytes()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if wanted in environment.split(b"\0"):
            found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"  # a zombie is dead, only not yet reaped by its new parent


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except OSError:
        return False
    return True


def _signal(groups: set[int], pids: set[int], sig: signal.Signals) -> None:
    for pgid in groups:
        with contextlib.suppress(OSError):
            os.killpg(pgid, sig)
            os.killpg(pgid, signal.SIGCONT)  # a stopped process acts on SIGTERM only once resumed
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, sig)
            os.kill(pid, signal.SIGCONT)


def _terminate(groups: set[int], pids: set[int]) -> set[int]:
    """SIGTERM, then SIGKILL for whatever is still alive after the grace period."""
    groups = {pgid for pgid in groups if _group_alive(pgid)}
    pids = {pid for pid in pids if _alive(pid)}
    if not groups and not pids:
        return set()
    _signal(groups, pids, signal.SIGTERM)
    deadline = time.monotonic() + TERM_GRACE_SECONDS
    while time.monotonic() < deadline:
        if not any(_alive(pid) for pid in pids) and not any(map(_group_alive, groups)):
            break
        time.sleep(0.05)
    _signal(groups, {pid for pid in pids if _alive(pid)}, signal.SIGKILL)
    return pids | groups


async def _drop(databases: dict[str, str]) -> list[str]:
    import asyncpg

    dropped: list[str] = []
    for name, admin_dsn in databases.items():
        try:
            conn = await asyncpg.connect(admin_dsn, timeout=DROP_TIMEOUT_SECONDS)
            try:
                await conn.execute(
                    f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', timeout=DROP_TIMEOUT_SECONDS
                )
            finally:
                await conn.close()
        except Exception as exc:  # one database that cannot be dropped must not keep the others
            with contextlib.suppress(OSError):
                print(f"test peer guard: could not drop {name}: {exc!r}", file=sys.stderr)
            continue
        dropped.append(name)
    return dropped


if __name__ == "__main__":
    main()
