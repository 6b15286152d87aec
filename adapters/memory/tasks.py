"""Running chat turns and their stop requests, in process memory (embedded mode, one replica)."""

from __future__ import annotations

from adapters.security.clock import SystemClock
from application.chat.ports import RunningTask, StopWatch, TaskRegistry
from application.common.ports import Clock

# As in the Redis registry: a stop that arrives before its task registers is kept this long.
STOP_MARK_SECONDS = 60


class MemoryTaskRegistry(TaskRegistry):
    """Same behaviour as `RedisTaskRegistry` within one process: tasks expire after their
    ttl, and a stop request sets the watch at once (or waits as a mark for a later start)."""

    def __init__(
        self, clock: Clock | None = None, *, stop_mark_seconds: int = STOP_MARK_SECONDS
    ) -> None:
        self._clock = clock or SystemClock()
        self._stop_mark_seconds = stop_mark_seconds
        self._tasks: dict[str, tuple[RunningTask, float]] = {}  # id -> (task, expires at)
        self._watches: dict[str, StopWatch] = {}
        self._stop_marks: dict[str, float] = {}  # id -> expires at

    async def start(self, task: RunningTask, ttl_seconds: int) -> StopWatch:
        now = self._now()
        self._sweep(now)
        watch = StopWatch(task.task_id)
        self._tasks[task.task_id] = (task, now + ttl_seconds)
        self._watches[task.task_id] = watch
        if self._stop_marks.get(task.task_id, 0.0) > now:
            watch.stopped.set()
        return watch

    async def finish(self, watch: StopWatch) -> None:
        if self._watches.get(watch.task_id) is watch:
            del self._watches[watch.task_id]
        self._tasks.pop(watch.task_id, None)
        self._stop_marks.pop(watch.task_id, None)

    async def get(self, task_id: str) -> RunningTask | None:
        found = self._tasks.get(task_id)
        if found is None or found[1] <= self._now():
            return None
        return found[0]

    async def request_stop(self, task_id: str) -> None:
        now = self._now()
        self._sweep(now)
        self._stop_marks[task_id] = now + self._stop_mark_seconds
        watch = self._watches.get(task_id)
        if watch is not None:
            watch.stopped.set()

    def _sweep(self, now: float) -> None:
        # Expired entries only matter for memory use; lookups check expiry themselves.
        for task_id in [t for t, (_, expires) in self._tasks.items() if expires <= now]:
            del self._tasks[task_id]
        for task_id in [t for t, expires in self._stop_marks.items() if expires <= now]:
            del self._stop_marks[task_id]

    def _now(self) -> float:
        return self._clock.now().timestamp()
