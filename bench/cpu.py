"""CPU time of processes from /proc, to say where a load's CPU went (Linux only)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

_TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process so far (0 when it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return 0.0
    # The command name (field 2) may hold spaces; the numeric fields follow its ')'.
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * _TICK_S


def pids_named(*names: str) -> list[int]:
    """Processes whose command name (/proc/<pid>/comm) is one of `names`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text(encoding="utf-8").strip() in names:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def machine_busy_s() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, over all cores."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # guest time is already counted in user
    return (total - idle) * _TICK_S, total * _TICK_S


# A group of processes to meter, re-listed at every snapshot (PostgreSQL starts backends).
PidSource = Callable[[], list[int]]


@dataclass(frozen=True, slots=True)
class CpuSnapshot:
    by_pid: dict[str, dict[int, float]]
    machine_busy: float
    machine_total: float


def snapshot(groups: dict[str, PidSource]) -> CpuSnapshot:
    busy, total = machine_busy_s()
    return CpuSnapshot(
        {name: {pid: process_cpu_s(pid) for pid in pids()} for name, pids in groups.items()},
        busy,
        total,
    )


@dataclass(frozen=True, slots=True)
class CpuUse:
    """CPU seconds each group used between two snapshots, and the machine's busy share."""

    seconds: dict[str, float]
    machine_busy_share: float


def between(before: CpuSnapshot, after: CpuSnapshot) -> CpuUse:
    """A process started in between counts from zero; one that ended in between is lost."""
    total = after.machine_total - before.machine_total
    busy = after.machine_busy - before.machine_busy
    used = {
        name: sum(cpu - before.by_pid.get(name, {}).get(pid, 0.0) for pid, cpu in pids.items())
        for name, pids in after.by_pid.items()
    }
    return CpuUse(used, busy / total if total else 0.0)
