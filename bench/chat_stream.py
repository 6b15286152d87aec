"""(e) Streaming chat turns through Astra against a fast OpenAI-compatible upstream.

In one run: the fake upstream (`bench/fake_openai_upstream.py`, 32 tokens per reply) and Astra
(`astra serve --workers 1`, PostgreSQL + Redis, `ASTRA_LLM_BACKEND=openai` pointed at it). For
each scenario the same lean client measures the upstream directly, then through Astra:
time to first event (first `data:` chunk with text; for Astra the first `message` event) and
turns per second (complete streams). Each end user has one turn at a time, so every turn uses a
new `external_user_id`.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import msgspec

from bench.astra import AstraDeployment, astra_deployment, json_ok, sign_up
from bench.cpu import CpuUse, PidSource, between, pids_named, snapshot
from bench.infra import (
    Server,
    clean_environment,
    free_port,
    running_server,
)
from bench.report import BenchOptions, Row, main_for
from bench.stream_client import FirstEvent, StreamConnection, TurnError, build_post

NAME = "e. chat streaming"
TOKENS = 32
INTERNAL_KEY = "bench-internal-key-" + "0" * 32
CREDITS = 10**9
# Issue 14's targets.
ADDED_TTFE_P50_TARGET_MS = 5.0
RATIO_TARGET = 0.85
TURNS_PER_S_TARGET = 150.0
WORKER_CPU_MS_PER_TURN_TARGET = 6.0
_encode = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class Scenario:
    concurrency: int
    delay_ms: int

    @property
    def label(self) -> str:
        return f"c={self.concurrency} delay={self.delay_ms}ms"


SCENARIOS = (Scenario(1, 0), Scenario(32, 10), Scenario(32, 0))


@dataclass(slots=True)
class LoadResult:
    first_event_s: list[float] = field(default_factory=list)
    completed: int = 0
    failed: int = 0
    first_error: str = ""
    elapsed_s: float = 0.0
    cpu: CpuUse | None = None

    @property
    def turns_per_s(self) -> float:
        return self.completed / self.elapsed_s if self.elapsed_s else 0.0

    def percentile_ms(self, fraction: float) -> float:
        ordered = sorted(self.first_event_s)
        if not ordered:
            return 0.0
        return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] * 1000

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.first_event_s) * 1000 if self.first_event_s else 0.0

    def worker_cpu_ms_per_turn(self) -> float | None:
        """CPU milliseconds of the Astra worker per measured turn (None: not measured)."""
        if self.cpu is None or not self.completed or "astra" not in self.cpu.seconds:
            return None
        return self.cpu.seconds["astra"] * 1000 / self.completed

    def cpu_per_turn(self) -> str:
        """CPU milliseconds per measured turn by process group, and how busy the machine was."""
        if self.cpu is None or not self.completed:
            return "-"
        parts = [
            f"{name} {seconds * 1000 / self.completed:.2f}"
            for name, seconds in self.cpu.seconds.items()
        ]
        return f"{', '.join(parts)} (machine {self.cpu.machine_busy_share:.0%} busy)"


@dataclass(frozen=True, slots=True)
class Target:
    """How to send turns to one server and how to read its answers."""

    url: str
    make_request: Callable[[], bytes]
    is_first: FirstEvent
    end_marker: bytes


# ---------------------------------------------------------------- load


async def _loop(target: Target, until: float, result: LoadResult, measure_from: float) -> None:
    connection = StreamConnection(target.url)
    try:
        while time.perf_counter() < until:
            try:
                timing = await connection.turn(
                    target.make_request(), target.is_first, target.end_marker
                )
            except (TurnError, OSError, asyncio.IncompleteReadError, ValueError) as error:
                result.failed += 1
                result.first_error = result.first_error or f"{type(error).__name__}: {error}"
                await connection.close()
                continue
            done = time.perf_counter()
            if measure_from <= done <= until:
                result.completed += 1
                result.first_event_s.append(timing.first_event_s)
    finally:
        await connection.close()


async def _meter(groups: dict[str, PidSource], start: float, end: float) -> CpuUse:
    await asyncio.sleep(max(0.0, start - time.perf_counter()))
    before = snapshot(groups)
    await asyncio.sleep(max(0.0, end - time.perf_counter()))
    return between(before, snapshot(groups))


async def run_load(
    target: Target,
    concurrency: int,
    warmup_s: float,
    seconds: float,
    cpu_groups: dict[str, PidSource],
) -> LoadResult:
    """`concurrency` loops of back-to-back turns; only turns ending in the window count.

    `cpu_groups` (name → pids) are metered over the same window.
    """
    result = LoadResult()
    measure_from = time.perf_counter() + warmup_s
    until = measure_from + seconds
    meter = asyncio.create_task(_meter(cpu_groups, measure_from, until))
    await asyncio.gather(*(_loop(target, until, result, measure_from) for _ in range(concurrency)))
    result.elapsed_s = seconds
    result.cpu = await meter
    return result


# ---------------------------------------------------------------- the two targets


def _has_text(payload: object) -> bool:
    if not isinstance(payload, dict):
        return False
    choices = payload.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return False
    delta = choices[0].get("delta")
    return isinstance(delta, dict) and bool(delta.get("content"))


def _is_message(payload: object) -> bool:
    return isinstance(payload, dict) and payload.get("event") == "message"


def direct_target(upstream_url: str) -> Target:
    url = f"{upstream_url}/v1/chat/completions"
    # About the prompt Astra builds for a one-line message: a system prompt and the message.
    body = _encode.encode(
        {
            "model": "fake",
            "stream": True,
            "stream_options": {"include_usage": True},
            "temperature": 0.7,
            "max_tokens": 512,
            "messages": [
                {"role": "system", "content": "You are a helpful assistant. Answer briefly."},
                {"role": "user", "content": "Hello, what are your opening hours?"},
            ],
        }
    )
    request = build_post(url, body, {})
    return Target(url, lambda: request, _has_text, b"[DONE]")


def astra_target(base_url: str, api_key: str, agent_id: str) -> Target:
    url = f"{base_url}/chat/v1/messages"
    headers = {"authorization": f"Bearer {api_key}"}
    run = secrets.token_hex(4)
    counter = iter(range(1 << 62))

    def make_request() -> bytes:
        body = _encode.encode(
            {
                "agent_id": agent_id,
                "external_user_id": f"bench-{run}-{next(counter)}",
                "message_content": "Hello, what are your opening hours?",
                "response_mode": "streaming",
            }
        )
        return build_post(url, body, headers)

    return Target(url, make_request, _is_message, b"message_end")


# ---------------------------------------------------------------- deployment


@asynccontextmanager
async def fake_upstream(log_dir: Path) -> AsyncIterator[Server]:
    port = free_port()
    argv = [sys.executable, "-m", "bench.fake_openai_upstream", "--port", str(port)]
    argv += ["--tokens", str(TOKENS)]
    env = clean_environment({})
    async with running_server("upstream", argv, port, env, log_dir, "/v1/models") as server:
        yield server


def astra_on(upstream_url: str) -> AbstractAsyncContextManager[AstraDeployment]:
    """`bench.astra.astra_deployment` plus the LLM backend, an internal key and no chat rate
    limit worth hitting (the benchmark is about the turn path, not the limiter's refusals)."""
    return astra_deployment(
        {
            "ASTRA_INTERNAL_API_KEYS": INTERNAL_KEY,
            "ASTRA_LLM_BACKEND": "openai",
            "ASTRA_LLM_BASE_URL": f"{upstream_url}/v1",
            "ASTRA_LLM_MODEL": "fake",
            "ASTRA_CHAT_RATE_PER_TENANT_PER_MINUTE": str(10**9),
        }
    )


async def chat_tenant(deployment: AstraDeployment) -> tuple[str, str]:
    """A signed-up tenant with an agent, a `chat:write` API key and plenty of credits:
    (api key, agent id)."""
    _, token = await sign_up(deployment)
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=deployment.base_url, timeout=30.0) as client:
        tenant = json_ok(await client.get("/account/v1/user/tenants/current", headers=auth))
        tenant_id = str(tenant["tenant"]["id"])  # type: ignore[index]
        templates = json_ok(await client.get("/mapping/v1/templates", headers=auth))
        template_id = str(templates["templates"][0]["id"])  # type: ignore[index]
        agent = json_ok(
            await client.post(
                "/mapping/v1/agents",
                json={"template_id": template_id, "name": "Bench agent"},
                headers=auth,
            )
        )
        key = json_ok(
            await client.post(
                "/account/v1/tenant/api-keys",
                json={"name": "bench", "scopes": ["chat:write"]},
                headers=auth,
            )
        )
        json_ok(
            await client.post(
                f"/usage/internal/v1/tenants/{tenant_id}/credits",
                json={"amount": CREDITS, "reason": "benchmark"},
                headers={"Authorization": f"Bearer {INTERNAL_KEY}"},
            )
        )
        api_key, agent_id = str(key["secret"]), str(agent["agent_id"])
        # Prove a turn works before measuring, so errors never pass for speed.
        check = json_ok(
            await client.post(
                "/chat/v1/messages",
                json={
                    "agent_id": agent_id,
                    "external_user_id": "bench-check",
                    "message_content": "Hello",
                    "response_mode": "blocking",
                },
                headers={"Authorization": f"Bearer {api_key}"},
            )
        )
        if not check.get("answer"):
            raise RuntimeError(f"the check turn has no answer: {check}")
    return api_key, agent_id


# ---------------------------------------------------------------- rows


def _note(result: LoadResult) -> str:
    if not result.failed:
        return ""
    return f"{result.failed} failed turns ({result.first_error[:160]})"


def _rows(scenario: Scenario, direct: LoadResult, astra: LoadResult) -> list[Row]:
    label = scenario.label
    valid = direct.failed == 0 and astra.failed == 0 and astra.completed > 0
    rows = [
        Row(
            NAME,
            f"{label} direct TTFE p50 / p99",
            f"{direct.p50_ms:.1f} / {direct.percentile_ms(0.99):.1f} ms",
            note=_note(direct),
        ),
        Row(
            NAME,
            f"{label} astra TTFE p50 / p99",
            f"{astra.p50_ms:.1f} / {astra.percentile_ms(0.99):.1f} ms",
            note=_note(astra),
        ),
        Row(NAME, f"{label} direct turns/s", f"{direct.turns_per_s:,.1f}"),
        Row(NAME, f"{label} astra turns/s", f"{astra.turns_per_s:,.1f}"),
        Row(NAME, f"{label} direct CPU ms/turn", direct.cpu_per_turn()),
        Row(NAME, f"{label} astra CPU ms/turn", astra.cpu_per_turn()),
    ]
    invalid = "" if valid else "failed turns during the load: the result is not valid"
    worker_ms = astra.worker_cpu_ms_per_turn()
    rows.append(
        Row(
            NAME,
            f"{label} astra worker CPU ms/turn",
            "-" if worker_ms is None else f"{worker_ms:.2f} ms",
            f"<= {WORKER_CPU_MS_PER_TURN_TARGET:.0f} ms",
            passed=valid and worker_ms is not None and worker_ms <= WORKER_CPU_MS_PER_TURN_TARGET,
            note=invalid,
        )
    )
    if scenario == Scenario(1, 0):
        added = astra.p50_ms - direct.p50_ms
        rows.append(
            Row(
                NAME,
                f"{label} added TTFE p50",
                f"{added:.1f} ms",
                f"<= {ADDED_TTFE_P50_TARGET_MS:.0f} ms",
                passed=valid and added <= ADDED_TTFE_P50_TARGET_MS,
                note=invalid,
            )
        )
    elif scenario.delay_ms:
        ratio = astra.turns_per_s / direct.turns_per_s if direct.turns_per_s else 0.0
        rows.append(
            Row(
                NAME,
                f"{label} astra/direct turns/s",
                f"{ratio:.3f}",
                f">= {RATIO_TARGET}",
                passed=valid and ratio >= RATIO_TARGET,
                note=invalid,
            )
        )
    else:
        rows.append(
            Row(
                NAME,
                f"{label} astra turns/s",
                f"{astra.turns_per_s:,.1f}",
                f">= {TURNS_PER_S_TARGET:.0f}",
                passed=valid and astra.turns_per_s >= TURNS_PER_S_TARGET,
                note=invalid,
            )
        )
    return rows


async def _configure_upstream(upstream_url: str, delay_ms: int) -> None:
    async with httpx.AsyncClient(base_url=upstream_url, timeout=10.0) as client:
        json_ok(await client.put("/_config", json={"tokens": TOKENS, "delay_ms": delay_ms}))


async def run(options: BenchOptions) -> list[Row]:
    """One upstream and one Astra for all scenarios; the upstream's delay changes between them."""
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="astra-bench-upstream-") as tmp:
        async with fake_upstream(Path(tmp)) as upstream, astra_on(upstream.base_url) as astra:
            api_key, agent_id = await chat_tenant(astra)
            print(f"   upstream pid {upstream.pid}, astra pid {astra.server.pid}", flush=True)
            via_astra = astra_target(astra.base_url, api_key, agent_id)
            direct = direct_target(upstream.base_url)
            # PostgreSQL and Redis are shared with anything else running on the machine.
            cpu_groups: dict[str, PidSource] = {
                "astra": lambda: [astra.server.pid],
                "postgres": lambda: pids_named("postgres"),
                "redis": lambda: pids_named("redis-server"),
                "upstream": lambda: [upstream.pid],
                "client": lambda: [os.getpid()],
            }
            for scenario in SCENARIOS:
                await _configure_upstream(upstream.base_url, scenario.delay_ms)
                print(f"   {scenario.label}: direct, then astra", flush=True)
                measured = [
                    await run_load(
                        target,
                        scenario.concurrency,
                        options.warmup_s,
                        options.duration_s,
                        cpu_groups,
                    )
                    for target in (direct, via_astra)
                ]
                rows += _rows(scenario, *measured)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    return main_for(NAME, run, __doc__ or NAME, argv)


if __name__ == "__main__":
    raise SystemExit(main())
