"""Recovery ends the turns nobody runs any more, by the charging rule, and never twice."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

import application.chat.producer as producer_module
from adapters.memory.concurrency import MemoryConcurrencyLimiter
from application.chat.accounting import StoredTurn, TurnAccounting
from application.chat.commands import ChatPolicy
from application.chat.ports import FinalReply, Lease, RunningTask
from application.chat.recovery import recovered_reply
from application.chat.turn import ChatTurn, TurnFinished
from domain.billing.ledger import ReservationStatus
from domain.chat.models import MessageStatus
from domain.errors import ErrorCode, Unavailable
from tests.fakes.clock import FixedClock
from tests.unit.chat.kit import TENANT, USER, ChatKit

POLICY = ChatPolicy()
PAST_DEADLINE = timedelta(seconds=POLICY.turn_deadline_seconds + 1)


async def gated_kit() -> tuple[ChatKit, asyncio.Event]:
    kit = ChatKit()
    gate = asyncio.Event()
    kit.backend.gate = gate
    await kit.give_credits(10)
    return kit, gate


async def dead_turn(kit: ChatKit) -> ChatTurn:
    """A turn whose process died mid-stream: stored and reserved, never ended."""
    turn = await kit.turn(kit.agent(), idempotency_key="key-1")
    await kit.backend.started.wait()
    task = kit.send._running[turn]
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert kit.stored(turn.message_id).status is MessageStatus.PENDING
    return turn


async def test_a_dead_turn_is_released_past_its_deadline_and_its_reply_failed() -> None:
    kit, _ = await gated_kit()
    turn = await dead_turn(kit)
    assert await kit.balance() == 9

    kit.clock.advance(PAST_DEADLINE - timedelta(seconds=2))
    assert await kit.recover.run_once() == 0  # not overdue yet
    kit.clock.advance(seconds=2)
    assert await kit.recover.run_once() == 1
    assert await kit.recover.run_once() == 0  # done once

    reply = kit.stored(turn.message_id)
    assert (reply.status, reply.credits, reply.error_code) == (
        MessageStatus.FAILED,
        0,
        int(ErrorCode.UNAVAILABLE),
    )
    assert reply.idempotency_key == ""  # a retry runs the turn again
    assert kit.store.ledger.reservations[turn.message_id].status is ReservationStatus.RELEASED
    assert await kit.balance() == 10
    assert kit.store.chat.conversations[turn.conversation_id].message_count == 2


async def test_output_already_stored_is_charged_and_the_reply_aborted() -> None:
    kit, _ = await gated_kit()
    turn = await dead_turn(kit)
    kit.stored(turn.message_id).content = "Hello"  # what a dead turn had written
    kit.clock.advance(PAST_DEADLINE)
    assert await kit.recover.run_once() == 1
    reply = kit.stored(turn.message_id)
    assert (reply.status, reply.content, reply.credits) == (MessageStatus.ABORTED, "Hello", 1)
    assert kit.store.ledger.reservations[turn.message_id].status is ReservationStatus.SETTLED
    assert await kit.balance() == 9


async def test_a_turn_some_replica_still_runs_is_left_alone() -> None:
    kit, _ = await gated_kit()
    turn = await dead_turn(kit)
    kit.clock.advance(PAST_DEADLINE)
    await kit.registry.start(RunningTask(turn.task_id, TENANT, USER), ttl_seconds=60)
    assert await kit.recover.run_once() == 0
    assert kit.stored(turn.message_id).status is MessageStatus.PENDING


async def test_a_live_turn_ending_after_recovery_fails_and_changes_nothing() -> None:
    kit, gate = await gated_kit()
    turn = await kit.turn(kit.agent())
    await kit.backend.started.wait()
    # Its registration expired with the deadline, as on a replica cut off for that long.
    kit.clock.advance(PAST_DEADLINE)
    assert await kit.recover.run_once() == 1
    gate.set()
    result = await kit.failed(turn)
    assert result.error.code is ErrorCode.UNAVAILABLE
    reply = kit.stored(turn.message_id)
    assert (reply.status, reply.content) == (MessageStatus.FAILED, "")
    assert await kit.balance() == 10  # released once, never settled on top


async def test_recovery_after_the_live_end_changes_nothing() -> None:
    kit, gate = await gated_kit()
    turn = await kit.turn(kit.agent())
    await kit.backend.started.wait()
    kit.clock.advance(PAST_DEADLINE)
    async with kit.uow() as uow:  # what a recovery round read just before the live end
        (stale,) = await uow.messages.stale_pending(kit.clock.now(), 10)
    gate.set()
    finished = await turn.result()
    assert isinstance(finished, TurnFinished)
    late = TurnAccounting(kit.uow, kit.ledger)
    stored = StoredTurn(TENANT, turn.conversation_id, turn.message_id, 1)
    assert await late.finish(stored, recovered_reply(stale, 1), kit.clock.now()) is None
    assert kit.stored(turn.message_id).status is MessageStatus.COMPLETED
    assert await kit.balance() == 9
    assert await kit.recover.run_once() == 0


class FlakyAccounting(TurnAccounting):
    """Fails the first `failures` ends with `Unavailable`; `commit_first` ones commit first
    (the answer lost on the way back, as when a connection drops after COMMIT)."""

    def __init__(self, kit: ChatKit, failures: int, *, commit_first: bool) -> None:
        super().__init__(kit.uow, kit.ledger)
        self.failures = failures
        self.commit_first = commit_first
        self.calls = 0

    async def finish(self, turn: StoredTurn, reply: FinalReply, now: datetime) -> int | None:
        self.calls += 1
        if self.calls <= self.failures:
            if self.commit_first:
                await super().finish(turn, reply, now)
            raise Unavailable("database restarting")
        return await super().finish(turn, reply, now)


def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(producer_module, "ACCOUNT_RETRY_DELAYS", (0.0, 0.0, 0.0))


async def test_the_end_is_retried_while_the_database_is_unreachable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    no_backoff(monkeypatch)
    kit = ChatKit()
    await kit.give_credits(10)
    flaky = FlakyAccounting(kit, failures=2, commit_first=False)
    kit.send._producer._accounting = flaky
    _, finished = await kit.finished(kit.agent())
    assert (flaky.calls, finished.debited, finished.balance) == (3, 1, 9)


async def test_an_end_that_committed_but_lost_its_answer_is_still_a_success(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    no_backoff(monkeypatch)
    kit = ChatKit()
    await kit.give_credits(10)
    kit.send._producer._accounting = FlakyAccounting(kit, failures=1, commit_first=True)
    turn, finished = await kit.finished(kit.agent())
    assert (finished.debited, finished.balance) == (1, 9)
    assert kit.stored(turn.message_id).status is MessageStatus.COMPLETED
    assert kit.store.chat.conversations[turn.conversation_id].message_count == 2  # counted once


async def test_an_end_never_written_is_left_to_recovery(monkeypatch: pytest.MonkeyPatch) -> None:
    no_backoff(monkeypatch)
    kit = ChatKit()
    await kit.give_credits(10)
    kit.send._producer._accounting = FlakyAccounting(kit, failures=99, commit_first=False)
    turn = await kit.turn(kit.agent())
    result = await kit.failed(turn)
    assert result.error.code is ErrorCode.UNAVAILABLE
    assert kit.stored(turn.message_id).status is MessageStatus.PENDING
    kit.clock.advance(PAST_DEADLINE)
    assert await kit.recover.run_once() == 1
    assert kit.stored(turn.message_id).status is MessageStatus.FAILED
    assert await kit.balance() == 10


async def test_a_hold_without_a_reply_is_released_past_its_deadline() -> None:
    kit, _ = await gated_kit()
    now = kit.clock.now()
    await kit.ledger.reserve(TENANT, 4, "charge-1", "", now, now + timedelta(minutes=1))
    kit.clock.advance(minutes=2)
    assert await kit.balance() == 6
    assert await kit.recover.run_once() == 1
    assert kit.store.ledger.reservations["charge-1"].status is ReservationStatus.RELEASED
    assert await kit.balance() == 10


async def test_a_turn_keeps_renewing_its_slot_until_it_ends() -> None:
    renewed: list[Lease] = []
    renewed_thrice = asyncio.Event()

    class RecordingLimiter(MemoryConcurrencyLimiter):
        async def renew(self, lease: Lease, ttl_seconds: int) -> bool:
            renewed.append(lease)
            if len(renewed) >= 3:
                renewed_thrice.set()
            return await super().renew(lease, ttl_seconds)

    gate = asyncio.Event()
    clock = FixedClock()
    kit = ChatKit(  # renewed every 0.25 s
        policy=ChatPolicy(slot_lease_seconds=1),
        clock=clock,
        limiter_override=RecordingLimiter(clock),
    )
    kit.backend.gate = gate
    await kit.give_credits(10)
    turn = await kit.turn(kit.agent())
    async with asyncio.timeout(30):
        await renewed_thrice.wait()
    gate.set()
    assert isinstance(await turn.result(), TurnFinished)
    count = len(renewed)
    # Released at the end, and the renewals stopped with the turn.
    assert await kit.limiter.acquire(renewed[0].key, 1, 1) is not None
    assert len(renewed) == count


async def test_a_lease_renewed_in_time_lives_on_and_an_expired_one_stays_dead() -> None:
    clock = FixedClock()
    limiter = MemoryConcurrencyLimiter(clock)
    lease = await limiter.acquire("k", 1, 20)
    assert lease is not None
    clock.advance(seconds=15)
    assert await limiter.renew(lease, 20)
    clock.advance(seconds=15)
    assert await limiter.acquire("k", 1, 20) is None  # still held: renewed 15 s ago
    clock.advance(seconds=6)
    assert not await limiter.renew(lease, 20)
    assert await limiter.acquire("k", 1, 20) is not None
