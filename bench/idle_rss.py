"""(c) Resident memory of one idle `astra serve` worker after start-up and a few requests."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import httpx

from bench.astra import astra_deployment, sign_up
from bench.infra import proc_status_mb
from bench.report import BenchOptions, Row, main_for

NAME = "c. idle worker RSS"
TARGET_MB = 150.0
SETTLE_S = 2.0


def worker_pid(pid: int) -> int:
    """The uvicorn worker: the server process itself with one worker, else its first child."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text(encoding="utf-8").split()
    return int(children[0]) if children else pid


async def run(options: BenchOptions) -> list[Row]:
    async with astra_deployment() as deployment:
        pid = worker_pid(deployment.server.pid)
        after_start = proc_status_mb(pid, "VmRSS")
        # A few requests touch the code paths of a typical session: sign-up, login, reads.
        _, token = await sign_up(deployment)
        auth = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=deployment.base_url) as client:
            for _ in range(10):
                for path, headers in (
                    ("/healthz", {}),
                    ("/readyz", {}),
                    ("/account/v1/user", auth),
                ):
                    (await client.get(path, headers=headers)).raise_for_status()
        await asyncio.sleep(SETTLE_S)
        idle = proc_status_mb(pid, "VmRSS")
        peak = proc_status_mb(pid, "VmHWM")
    return [
        Row(NAME, "RSS after start-up", f"{after_start:.0f} MB"),
        Row(
            NAME,
            "RSS idle after requests",
            f"{idle:.0f} MB",
            f"<= {TARGET_MB:.0f} MB",
            passed=idle <= TARGET_MB,
            note="VmRSS of the worker; MB = 10^6 bytes",
        ),
        Row(NAME, "peak RSS (VmHWM)", f"{peak:.0f} MB"),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    return main_for(NAME, run, __doc__ or NAME, argv)


if __name__ == "__main__":
    raise SystemExit(main())
