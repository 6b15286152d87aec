"""Run `wrk` against a URL and read its numbers from a small Lua `done` hook."""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

WRK_INSTALL_HINT = (
    "wrk is not installed: install it with `apt-get install -y wrk` (Debian/Ubuntu) "
    "or `brew install wrk` (macOS), then run the benchmark again"
)
_MARKER = "BENCH_WRK_JSON "

# wrk calls `done` once at the end with its HdrHistogram of latencies (microseconds).
_DONE_HOOK = """
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_WRK_JSON {\\"requests\\": %d, \\"duration_us\\": %d, \\"p50_us\\": %d, "
      .. "\\"p99_us\\": %d, \\"max_us\\": %d, \\"connect\\": %d, \\"read\\": %d, "
      .. "\\"write\\": %d, \\"status\\": %d, \\"timeout\\": %d}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


class WrkMissingError(RuntimeError):
    """`wrk` is not on PATH."""


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests: int
    duration_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    non_2xx: int
    socket_errors: int

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def _script(pause_ms: int) -> str:
    # `delay` paces each connection: a probe at a steady rate instead of a flood.
    pace = f"function delay() return {pause_ms} end\n" if pause_ms > 0 else ""
    return pace + _DONE_HOOK


async def run_wrk(
    url: str,
    *,
    connections: int,
    duration_s: float,
    threads: int = 1,
    headers: Sequence[str] = (),
    pause_ms: int = 0,
) -> WrkResult:
    """One wrk run of `duration_s` seconds; `headers` are `Name: value` strings."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise WrkMissingError(WRK_INSTALL_HINT)
    with tempfile.TemporaryDirectory(prefix="astra-bench-wrk-") as tmp:
        script = Path(tmp) / "bench.lua"
        script.write_text(_script(pause_ms), encoding="utf-8")
        argv = [
            wrk,
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(duration_s))}s",
            "-s",
            str(script),
        ]
        for header in headers:
            argv += ["-H", header]
        argv.append(url)
        process = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        try:
            output, _ = await asyncio.wait_for(process.communicate(), timeout=duration_s + 30)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise
    return _parse(output.decode(errors="replace"))


def _parse(output: str) -> WrkResult:
    for line in output.splitlines():
        if line.startswith(_MARKER):
            data = json.loads(line.removeprefix(_MARKER))
            return WrkResult(
                requests=int(data["requests"]),
                duration_s=data["duration_us"] / 1e6,
                p50_ms=data["p50_us"] / 1e3,
                p99_ms=data["p99_us"] / 1e3,
                max_ms=data["max_us"] / 1e3,
                non_2xx=int(data["status"]),
                socket_errors=sum(int(data[k]) for k in ("connect", "read", "write", "timeout")),
            )
    raise RuntimeError(f"wrk printed no result:\n{output[-2000:]}")
