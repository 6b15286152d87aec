"""Result rows, the printed table, and the command-line wrapper every benchmark shares."""

from __future__ import annotations

import argparse
import asyncio
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BenchOptions:
    duration_s: float = 10.0
    warmup_s: float = 3.0


@dataclass(frozen=True, slots=True)
class Row:
    """One measured number; `passed` is None for numbers without a target."""

    benchmark: str
    metric: str
    value: str
    target: str = ""
    passed: bool | None = None
    note: str = ""

    @property
    def mark(self) -> str:
        if self.passed is None:
            return "SKIP" if self.value == "-" else ""
        return "PASS" if self.passed else "FAIL"


Benchmark = Callable[[BenchOptions], Awaitable[list[Row]]]


def error_row(benchmark: str, exc: BaseException) -> Row:
    """A failed benchmark still yields a row, so the table says what went wrong."""
    return Row(benchmark, "error", "-", passed=False, note=f"{type(exc).__name__}: {exc}")


def format_table(rows: Sequence[Row]) -> str:
    header = ("benchmark", "metric", "value", "target", "result")
    cells = [(r.benchmark, r.metric, r.value, r.target, r.mark) for r in rows]
    widths = [max(len(line[i]) for line in [header, *cells]) for i in range(len(header))]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    out = [line(header), line(["-" * w for w in widths])]
    out.extend(line(c) for c in cells)
    notes = [f"  * {r.benchmark} / {r.metric}: {r.note}" for r in rows if r.note]
    if notes:
        out.extend(["", "notes:", *notes])
    return "\n".join(out)


def parse_options(argv: Sequence[str] | None, description: str) -> BenchOptions:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of warm-up load")
    args = parser.parse_args(argv)
    return BenchOptions(duration_s=args.duration, warmup_s=args.warmup)


async def run_guarded(name: str, benchmark: Benchmark, options: BenchOptions) -> list[Row]:
    """Run one benchmark; an exception becomes an error row instead of ending the run."""
    print(f"== {name} ...", flush=True)
    try:
        return await benchmark(options)
    except Exception as exc:
        traceback.print_exc()
        return [error_row(name, exc)]


def main_for(
    name: str, benchmark: Benchmark, description: str, argv: Sequence[str] | None = None
) -> int:
    """Entry point of a single-benchmark module; always exits 0 (benchmarks inform)."""
    options = parse_options(argv, description)
    rows = asyncio.run(run_guarded(name, benchmark, options))
    print()
    print(format_table(rows))
    return 0
