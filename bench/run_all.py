"""Run every benchmark in turn and print one table (`make bench`); always exits 0."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from bench import (
    agents_list,
    chat_stream,
    healthz_under_login,
    idle_rss,
    ledger,
    login_flood,
    user_get,
)
from bench.report import Benchmark, Row, format_table, parse_options, run_guarded

BENCHMARKS: list[tuple[str, Benchmark]] = [
    (user_get.NAME, user_get.run),
    (healthz_under_login.NAME, healthz_under_login.run),
    (idle_rss.NAME, idle_rss.run),
    (ledger.NAME, ledger.run),
    (chat_stream.NAME, chat_stream.run),
    (agents_list.NAME, agents_list.run),
    (login_flood.NAME, login_flood.run),
]


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv, __doc__ or "benchmarks")

    async def run_all() -> list[Row]:
        rows: list[Row] = []
        for name, benchmark in BENCHMARKS:
            rows += await run_guarded(name, benchmark, options)
        return rows

    rows = asyncio.run(run_all())
    print()
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
