"""(g) A real user's login while 60 concurrent loops log in as unknown emails.

Two floods, each for the measured duration: from one client address (the per-address
throttle answers them before any password work), and from a new address per request (a
distributed flood, which only the bounded hashing queue holds back). The real user logs in
one request after another from an address of its own; the server believes the forwarded
addresses because the bench lists loopback in `ASTRA_TRUSTED_PROXIES`.
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence

import httpx

from bench.astra import BENCH_PASSWORD, AstraDeployment, astra_deployment, sign_up
from bench.report import BenchOptions, Row, main_for

NAME = "g. login under a flood"
FLOOD_CONCURRENCY = 60
TARGET_P50_MS = 1000.0
REQUEST_TIMEOUT_S = 60.0
REAL_USER_ADDRESS = "198.51.100.7"
LOGIN = "/account/v1/auth/login"


def _one_address() -> Callable[[], str]:
    return lambda: "192.0.2.1"


def _new_address_each_time() -> Callable[[], str]:
    counter = itertools.count(1)

    def address() -> str:
        n = next(counter)
        return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"

    return address


async def _flood_loop(
    client: httpx.AsyncClient, address: Callable[[], str], stop: asyncio.Event, seen: Counter[int]
) -> None:
    n = 0
    while not stop.is_set():
        n += 1
        body = {"email": f"nobody-{id(seen)}-{n}@example.com", "password": "guess-1234567"}
        try:
            response = await client.post(LOGIN, json=body, headers={"X-Forwarded-For": address()})
        except httpx.HTTPError:
            seen[0] += 1
            await asyncio.sleep(0.05)
        else:
            seen[response.status_code] += 1


async def _real_user(
    client: httpx.AsyncClient, email: str, duration_s: float
) -> tuple[list[float], Counter[int]]:
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    ends = time.perf_counter() + duration_s
    body = {"email": email, "password": BENCH_PASSWORD}
    while time.perf_counter() < ends:
        started = time.perf_counter()
        response = await client.post(
            LOGIN, json=body, headers={"X-Forwarded-For": REAL_USER_ADDRESS}
        )
        statuses[response.status_code] += 1
        if response.status_code == 200:
            latencies.append(time.perf_counter() - started)
        else:
            await asyncio.sleep(float(response.headers.get("retry-after", "1")))
    return latencies, statuses


async def _measure(
    deployment: AstraDeployment,
    email: str,
    label: str,
    address: Callable[[], str],
    options: BenchOptions,
    *,
    has_target: bool,
) -> list[Row]:
    stop = asyncio.Event()
    flood_seen: Counter[int] = Counter()
    limits = httpx.Limits(max_connections=FLOOD_CONCURRENCY + 1)
    async with httpx.AsyncClient(
        base_url=deployment.base_url, limits=limits, timeout=REQUEST_TIMEOUT_S
    ) as client:
        loops = [
            asyncio.create_task(_flood_loop(client, address, stop, flood_seen))
            for _ in range(FLOOD_CONCURRENCY)
        ]
        try:
            await asyncio.sleep(options.warmup_s)
            latencies, statuses = await _real_user(client, email, options.duration_s)
        finally:
            stop.set()
            await asyncio.wait_for(asyncio.gather(*loops), timeout=REQUEST_TIMEOUT_S + 5)
    p50 = statistics.median(latencies) * 1000 if latencies else float("inf")
    worst = max(latencies) * 1000 if latencies else float("inf")
    value = f"{p50:.0f} ms" if latencies else "no 200"
    flood = ", ".join(f"{status}: {n}" for status, n in sorted(flood_seen.items()))
    real = ", ".join(f"{status}: {n}" for status, n in sorted(statuses.items()))
    return [
        Row(
            NAME,
            f"{label}: real login p50",
            value,
            f"<= {TARGET_P50_MS:.0f} ms" if has_target else "",
            passed=p50 <= TARGET_P50_MS if has_target else None,
            note=f"real user answers {{{real}}}; flood answers {{{flood}}}",
        ),
        Row(NAME, f"{label}: real login max", f"{worst:.0f} ms" if latencies else "no 200"),
    ]


async def run(options: BenchOptions) -> list[Row]:
    async with astra_deployment({"ASTRA_TRUSTED_PROXIES": "127.0.0.1"}) as deployment:
        email, _ = await sign_up(deployment)
        rows = await _measure(
            deployment, email, "one address", _one_address(), options, has_target=True
        )
        # No target: hashing capacity is the ceiling, so the queue refuses the real user as
        # it refuses the flood; only a limit in front of Astra (by network) can tell them apart.
        rows += await _measure(
            deployment,
            email,
            "an address per request",
            _new_address_each_time(),
            options,
            has_target=False,
        )
        return rows


def main(argv: Sequence[str] | None = None) -> int:
    return main_for(NAME, run, __doc__ or NAME, argv)


if __name__ == "__main__":
    raise SystemExit(main())
