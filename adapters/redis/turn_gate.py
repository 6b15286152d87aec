"""A chat turn's limits in one Redis round trip each way.

Entering runs one script: the end user's concurrency slot, the tenant's rate limit and the
task's registration, all or nothing (a refusal takes nothing; Redis runs a script alone, so
no other turn sees a half-entered one). Leaving is one pipeline: release the slot, drop the
task. The keys are the same ones the separate adapters use, so renewing the lease
(`RedisConcurrencyLimiter.renew`), stopping (`RedisTaskRegistry.request_stop`) and recovery
(`RedisTaskRegistry.get`) work on what the gate took.
"""

from __future__ import annotations

import math
import secrets

import msgspec
from redis.asyncio import Redis
from redis.exceptions import RedisError

from adapters.redis.client import unavailable
from adapters.redis.concurrency import RedisConcurrencyLimiter, lease_free_lua, lease_take_lua
from adapters.redis.limits import RedisRateLimiter, rate_hit_lua
from adapters.redis.tasks import RedisTaskRegistry, task_start_lua
from application.chat.ports import Lease, TurnGate, TurnLimits, TurnPass, TurnRefusal

WHAT = "chat limits"

# KEYS: 1 lease set, 2 rate counter, 3 task, 4 stop mark.
# ARGV: 1 slots, 2 lease ttl ms, 3 lease token, 4 rate limit, 5 rate window ms, 6 task JSON,
# 7 task ttl s. Returns {0, 0} slot taken, {1, ms} rate refused for ms, {2, stop_requested}.
_ENTER = (
    lease_free_lua(1, 1)
    + "if not lease_free then return {0, 0} end\n"
    + rate_hit_lua(2, 4, 5)
    + "if rate_refused_ms then return {1, rate_refused_ms} end\n"
    + lease_take_lua(1, 2, 3)
    + task_start_lua(3, 4, 6, 7)
    + "return {2, stop_requested}"
)


class RedisTurnGate(TurnGate):
    def __init__(
        self,
        client: Redis,
        leases: RedisConcurrencyLimiter,
        rates: RedisRateLimiter,
        tasks: RedisTaskRegistry,
    ) -> None:
        self._client = client
        self._leases = leases
        self._rates = rates
        self._tasks = tasks
        self._enter = client.register_script(_ENTER)

    async def enter(self, limits: TurnLimits) -> TurnPass | TurnRefusal:
        if limits.slots <= 0:
            return TurnRefusal(slot_taken=True)
        task_id = limits.task.task_id
        token = secrets.token_hex(16)
        watch = await self._tasks.watch(task_id)
        try:
            outcome, detail = await self._enter(
                keys=[
                    self._leases.key(limits.slot_key),
                    self._rates.key(limits.rate_key),
                    self._tasks.task_key(task_id),
                    self._tasks.stop_key(task_id),
                ],
                args=[
                    limits.slots,
                    max(1, limits.lease_seconds) * 1000,
                    token,
                    limits.rate_limit,
                    max(1, limits.rate_window_seconds) * 1000,
                    msgspec.json.encode(limits.task),
                    max(1, limits.task_ttl_seconds),
                ],
            )
        except (RedisError, OSError) as exc:
            self._tasks.forget(watch)
            raise unavailable(WHAT, exc) from exc
        if int(outcome) != 2:
            self._tasks.forget(watch)
            if int(outcome) == 0:
                return TurnRefusal(slot_taken=True)
            return TurnRefusal(slot_taken=False, retry_after=max(1, math.ceil(int(detail) / 1000)))
        if int(detail):
            watch.stopped.set()
        return TurnPass(Lease(key=limits.slot_key, token=token), watch)

    async def leave(self, passed: TurnPass) -> None:
        self._tasks.forget(passed.watch)
        task_id = passed.watch.task_id
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.zrem(self._leases.key(passed.lease.key), passed.lease.token)
                pipe.delete(self._tasks.task_key(task_id), self._tasks.stop_key(task_id))
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise unavailable(WHAT, exc) from exc
