"""Recovery: end the chat turns nobody is running any more, so no credit is held forever.

It also closes credit allowances whose process no longer uses them (docs/ledger.md).

A turn's process can die between storing the turn and ending it (SIGKILL, a crash, a database
that stayed down past the end-of-turn retries). Its reply then stays `pending` and its credits
`RESERVED`. Past the turn's deadline, and when no replica has the task registered, recovery
ends it by the chat charging rule: output stored → settled (reply `aborted`), none →
released (reply `failed`, code 14, its Idempotency-Key freed so a retry runs the turn again).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from application.billing.ledger import CreditLedger
from application.chat.accounting import StoredTurn, TurnAccounting
from application.chat.commands import ChatPolicy
from application.chat.ports import FinalReply, TaskRegistry
from application.common.ports import Clock, UnitOfWorkFactory
from domain.billing.ledger import Reservation, ReservationStatus
from domain.chat.models import Message, MessageStatus
from domain.errors import ErrorCode, FailedPrecondition

logger = logging.getLogger("astra.chat.recovery")

# Rows looked at per round; a full round is followed at once by another.
RECOVERY_BATCH = 100


def recovered_reply(pending: Message, reserved: int) -> FinalReply:
    """The charging rule applied to what a dead turn left stored."""
    if pending.content:
        return FinalReply(
            content=pending.content,
            status=MessageStatus.ABORTED,
            credits=reserved,
            prompt_tokens=pending.prompt_tokens,
            completion_tokens=pending.completion_tokens,
        )
    return FinalReply(
        content="",
        status=MessageStatus.FAILED,
        credits=0,
        prompt_tokens=0,
        completion_tokens=0,
        error_code=int(ErrorCode.UNAVAILABLE),
        frees_idempotency_key=True,
    )


class RecoverStaleTurns:
    """One round of recovery (`run_once`); the composition root repeats it.

    Safe to run on every replica at once and against live turns: each end goes through
    `TurnAccounting.finish`, where exactly one writer wins. A reservation with no chat reply
    behind it (another kind of charge) is released once past its deadline.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        clock: Clock,
        ledger: CreditLedger,
        accounting: TurnAccounting,
        registry: TaskRegistry,
        policy: ChatPolicy,
        batch: int = RECOVERY_BATCH,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._ledger = ledger
        self._accounting = accounting
        self._registry = registry
        self._policy = policy
        self._batch = batch

    async def run_once(self) -> int:
        """End what is overdue; returns how many turns and holds this round ended."""
        now = self._clock.now()
        stale_before = now - timedelta(seconds=self._policy.turn_deadline_seconds)
        async with self._uow() as uow:
            replies = await uow.messages.stale_pending(stale_before, self._batch)
            holds = {r.key: r for r in await uow.ledger.expired_holds(now, self._batch)}
            for reply in replies:
                if reply.id not in holds:
                    found = await uow.ledger.get_reservation(reply.id)
                    if found is not None:
                        holds[reply.id] = found
            reply_ids = {reply.id for reply in replies}
            orphans: list[tuple[Reservation, Message | None]] = [
                (hold, await uow.messages.get(hold.tenant_id, key))
                for key, hold in holds.items()
                if key not in reply_ids
            ]
        ended = 0
        for reply in replies:
            ended += await self._end_reply(reply, holds.get(reply.id), now)
        for hold, message in orphans:
            if message is not None and message.status is MessageStatus.PENDING:
                ended += await self._end_reply(message, hold, now)
            else:
                ended += await self._end_hold(hold, message, now)
        # After the holds: an allowance closes only once every charge from it has ended. Not
        # counted: they are neither turns nor holds (the next round closes any left over).
        await self._ledger.close_lapsed_allowances(now, self._batch)
        return ended

    async def _end_reply(self, pending: Message, hold: Reservation | None, now: datetime) -> int:
        reserved = 0
        if hold is not None and hold.status is ReservationStatus.RESERVED:
            if hold.expires_at >= now:
                return 0  # its credits are still held for a live turn
            reserved = hold.amount
        if pending.task_id and await self._registry.get(pending.task_id) is not None:
            return 0  # a replica still runs it; it ends the turn itself
        stored = StoredTurn(pending.tenant_id, pending.conversation_id, pending.id, reserved)
        reply = recovered_reply(pending, reserved)
        if await self._accounting.finish(stored, reply, now) is None:
            return 0  # the live turn ended it first
        logger.warning(
            "recovered chat turn %s of tenant %s: reply %s, %d credits charged",
            pending.id,
            pending.tenant_id,
            reply.status.value,
            reply.credits,
        )
        return 1

    async def _end_hold(self, hold: Reservation, message: Message | None, now: datetime) -> int:
        """A hold whose reply is final, or that has no reply (another kind of charge)."""
        if message is not None:
            # A reply becomes final in the transaction that resolves its hold, so the hold
            # read earlier is stale unless a fresh read still finds it RESERVED (data left
            # inconsistent by an older version): then the reply says what was charged.
            async with self._uow() as uow:
                fresh = await uow.ledger.get_reservation(hold.key)
            if fresh is None or fresh.status is not ReservationStatus.RESERVED:
                return 0
        try:
            if message is not None and message.credits > 0:
                await self._ledger.settle(hold.key, min(message.credits, hold.amount), now)
            else:
                await self._ledger.release(hold.key, now)
        except FailedPrecondition:
            return 0  # released meanwhile by its owner
        logger.warning("ended an expired credit hold %s of tenant %s", hold.key, hold.tenant_id)
        return 1
