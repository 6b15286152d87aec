"""(a) Throughput and latency of `GET /account/v1/user` against a bare Litestar app."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import httpx

from bench.astra import astra_deployment, sign_up
from bench.bare_app import BARE_PATH
from bench.infra import clean_environment, free_port, running_server
from bench.report import BenchOptions, Row, main_for
from bench.wrk import WRK_INSTALL_HINT, WrkResult, run_wrk, wrk_available

NAME = "a. GET /account/v1/user"
CONNECTIONS = 64
TARGET_RATIO = 0.35
# Issue 14: no pause tail (GC, cache stampedes) on the authenticated read.
TARGET_P99_OVER_P50 = 3.0
USER_PATH = "/account/v1/user"


async def _measure(url: str, options: BenchOptions, headers: Sequence[str] = ()) -> WrkResult:
    await run_wrk(url, connections=CONNECTIONS, duration_s=options.warmup_s, headers=headers)
    return await run_wrk(
        url, connections=CONNECTIONS, duration_s=options.duration_s, headers=headers
    )


async def measure_astra(options: BenchOptions) -> tuple[WrkResult, WrkResult]:
    """`GET /account/v1/user`, then `/healthz` on the same worker (the framework's share)."""
    async with astra_deployment() as deployment:
        _, token = await sign_up(deployment)
        auth = f"Authorization: Bearer {token}"
        # Prove the token works before measuring, so errors never pass for speed.
        async with httpx.AsyncClient(base_url=deployment.base_url) as client:
            check = await client.get(USER_PATH, headers={"Authorization": f"Bearer {token}"})
            if check.status_code != 200:
                raise RuntimeError(f"GET {USER_PATH} answered {check.status_code}: {check.text}")
        user = await _measure(f"{deployment.base_url}{USER_PATH}", options, [auth])
        health = await _measure(f"{deployment.base_url}/healthz", options)
        return user, health


async def measure_bare(options: BenchOptions) -> WrkResult:
    """The bare app under uvicorn with the options `astra serve` uses, one worker."""
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "bench.bare_app:create_app", "--factory"]
    argv += ["--host", "127.0.0.1"]
    argv += ["--port", str(port), "--workers", "1", "--no-access-log", "--proxy-headers"]
    argv += ["--no-server-header", "--log-level", "warning"]
    with tempfile.TemporaryDirectory(prefix="astra-bench-") as tmp:
        env = clean_environment({})
        async with running_server("bare", argv, port, env, Path(tmp), BARE_PATH) as server:
            return await _measure(f"{server.base_url}{BARE_PATH}", options)


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
            Row(NAME, "user/bare req/s ratio", "-", f">= {TARGET_RATIO}", note=WRK_INSTALL_HINT)
        ]
    astra, astra_health = await measure_astra(options)
    bare = await measure_bare(options)
    ratio = astra.requests_per_s / bare.requests_per_s if bare.requests_per_s else 0.0
    valid = astra.errors == 0 and bare.errors == 0
    verdict = Row(
        NAME,
        "user/bare req/s ratio",
        f"{ratio:.2f}",
        f">= {TARGET_RATIO}",
        passed=valid and ratio >= TARGET_RATIO,
        note="" if valid else "errors during the load: the ratio is not valid",
    )
    tail = astra.p99_ms / astra.p50_ms if astra.p50_ms else 0.0
    tail_verdict = Row(
        NAME,
        "astra user p99 / p50",
        f"{tail:.1f}",
        f"<= {TARGET_P99_OVER_P50:.0f}",
        passed=valid and 0 < tail <= TARGET_P99_OVER_P50,
    )
    return [
        *_rows("astra user", astra),
        *_rows("astra healthz", astra_health),
        *_rows("bare", bare),
        verdict,
        tail_verdict,
    ]


def main(argv: Sequence[str] | None = None) -> int:
    return main_for(NAME, run, __doc__ or NAME, argv)


if __name__ == "__main__":
    raise SystemExit(main())
