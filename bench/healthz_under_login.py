"""(b) `GET /healthz` latency while 16 argon2id logins run concurrently in a loop."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

from bench.astra import BENCH_PASSWORD, AstraDeployment, astra_deployment, login, sign_up
from bench.report import BenchOptions, Row, main_for
from bench.wrk import WRK_INSTALL_HINT, WrkResult, run_wrk, wrk_available

NAME = "b. /healthz under logins"
LOGIN_CONCURRENCY = 16
TARGET_P99_MS = 50.0
# The probe: 8 connections, each pausing 20 ms between requests (~400 req/s), so the numbers
# show what logins do to the event loop rather than what a flood of probes does to itself.
PROBE_CONNECTIONS = 8
PROBE_PAUSE_MS = 20
LOGIN_TIMEOUT_S = 30.0


@dataclass(slots=True)
class LoginStats:
    latencies_s: list[float] = field(default_factory=list)
    failures: int = 0
    first_failure: str = ""


async def _login_loop(
    client: httpx.AsyncClient, email: str, stop: asyncio.Event, stats: LoginStats
) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        try:
            await login(client, email, BENCH_PASSWORD)
        except (RuntimeError, httpx.HTTPError) as exc:
            stats.failures += 1
            stats.first_failure = stats.first_failure or f"{type(exc).__name__}: {exc}"
            await asyncio.sleep(0.1)  # don't spin on a failing server
        else:
            stats.latencies_s.append(time.perf_counter() - started)


async def _probe(url: str, duration_s: float) -> WrkResult:
    return await run_wrk(
        url, connections=PROBE_CONNECTIONS, duration_s=duration_s, pause_ms=PROBE_PAUSE_MS
    )


async def _measure(deployment: AstraDeployment, options: BenchOptions) -> list[Row]:
    email, _ = await sign_up(deployment)
    stats = LoginStats()
    stop = asyncio.Event()
    limits = httpx.Limits(max_connections=LOGIN_CONCURRENCY)
    url = f"{deployment.base_url}/healthz"
    async with httpx.AsyncClient(
        base_url=deployment.base_url, limits=limits, timeout=LOGIN_TIMEOUT_S
    ) as client:
        loops = [
            asyncio.create_task(_login_loop(client, email, stop, stats))
            for _ in range(LOGIN_CONCURRENCY)
        ]
        try:
            await _probe(url, options.warmup_s)
            measured_from = len(stats.latencies_s)
            started = time.perf_counter()
            result = await _probe(url, options.duration_s)
            elapsed = time.perf_counter() - started
            logins = stats.latencies_s[measured_from:]
        finally:
            stop.set()
            # In-flight logins finish within their timeout; the loops then see `stop`.
            await asyncio.wait_for(asyncio.gather(*loops), timeout=LOGIN_TIMEOUT_S + 5)

    probe_note = f"{PROBE_CONNECTIONS} paced connections, {result.requests_per_s:,.0f} req/s"
    if result.errors:
        probe_note += f"; {result.non_2xx} non-2xx, {result.socket_errors} socket errors"
    login_note = f"{stats.failures} failed logins ({stats.first_failure})" if stats.failures else ""
    valid = result.errors == 0 and stats.failures == 0 and len(logins) > 0
    login_p50 = statistics.median(logins) * 1000 if logins else 0.0
    return [
        Row(NAME, "healthz p50", f"{result.p50_ms:.1f} ms", note=probe_note),
        Row(
            NAME,
            "healthz p99",
            f"{result.p99_ms:.1f} ms",
            f"< {TARGET_P99_MS:.0f} ms",
            passed=valid and result.p99_ms < TARGET_P99_MS,
        ),
        Row(
            NAME,
            f"logins/s ({LOGIN_CONCURRENCY} concurrent)",
            f"{len(logins) / elapsed:.1f}",
            note=login_note,
        ),
        Row(NAME, "login p50", f"{login_p50:.0f} ms"),
    ]


async def run(options: BenchOptions) -> list[Row]:
    if not wrk_available():
        return [Row(NAME, "healthz p99", "-", f"< {TARGET_P99_MS:.0f} ms", note=WRK_INSTALL_HINT)]
    async with astra_deployment() as deployment:
        return await _measure(deployment, options)


def main(argv: Sequence[str] | None = None) -> int:
    return main_for(NAME, run, __doc__ or NAME, argv)


if __name__ == "__main__":
    raise SystemExit(main())
