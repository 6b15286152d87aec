"""The producing side of a chat turn: model call, stop handling, accounting and leads."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from application.agents.ports import AgentProfile, LeadRecorder
from application.billing.ledger import CreditLedger
from application.chat.accounting import StoredTurn, TurnAccounting
from application.chat.commands import ChatPolicy
from application.chat.lead_extraction import TurnFacts, sighting_for
from application.chat.ports import (
    ChatMetrics,
    Completion,
    ConcurrencyLimiter,
    FinalReply,
    Lease,
    LLMBackend,
    NoChatMetrics,
    TextDelta,
    TurnGate,
    TurnPass,
)
from application.chat.prompt import build_request
from application.chat.turn import AnswerDelta, ChatTurn, TurnFailed, TurnFinished, TurnUsage
from application.common.ports import Clock, UnitOfWorkFactory
from domain.chat.models import Message, MessageStatus
from domain.errors import AstraError, ErrorCode, Unavailable

# Pauses between attempts to write a turn's end while the database is unreachable: ~8 s in
# all, far inside `ChatPolicy.turn_margin_seconds`, so recovery never meets a live writer.
ACCOUNT_RETRY_DELAYS = (0.25, 0.5, 1.0, 2.0, 4.0)

# Failures that a retry may cure (model server down, overloaded, a bug of ours).
RETRYABLE_CODES = frozenset(
    {ErrorCode.UNAVAILABLE, ErrorCode.RESOURCE_EXHAUSTED, ErrorCode.INTERNAL}
)

logger = logging.getLogger("astra.chat")


@dataclass(frozen=True, slots=True)
class TurnPlan:
    """Everything a started turn needs; checks, reservation and registration are done."""

    tenant_id: str
    agent_id: str
    conversation_id: str
    external_user_id: str
    source: str
    message_content: str
    history: list[Message]  # earlier messages for the prompt, read when the turn was stored
    inputs: dict[str, Any]
    profile: AgentProfile
    user_message_id: str
    message_id: str  # the assistant message, also the ledger key
    reserved: int  # credits held for the reply (0: chat is free)
    passed: TurnPass  # the slot, the rate hit and the task registration it holds


@dataclass(slots=True)
class _Outcome:
    parts: list[str] = field(default_factory=list)
    completion: Completion | None = None
    status: MessageStatus = MessageStatus.COMPLETED
    error: AstraError | None = None
    latency: float = 0.0

    @property
    def answer(self) -> str:
        return "".join(self.parts)

    @property
    def usage(self) -> TurnUsage:
        if self.completion is None:  # stopped early: every delta is about one token
            return TurnUsage(0, len(self.parts), self.latency)
        return TurnUsage(
            self.completion.prompt_tokens, self.completion.completion_tokens, self.latency
        )


class TurnProducer:
    """Runs started turns. One per process; every turn runs as its own task.

    - The model call stops on a StopChat (task registry watch, any replica), on `abort` (client
      gone) or after `policy.max_turn_seconds`; the reply is then `aborted`.
    - Credits: settled in full when the reply has any text and did not fail, else released.
    - The assistant message is stored with its final status, text, credits and tokens, and
      the conversation counts it, before the last event is sent — in the same transaction as
      the settle or release and the balance read (`TurnAccounting`). While the database is
      unreachable that write is retried (`ACCOUNT_RETRY_DELAYS`); if it still fails, or
      recovery ended the turn first, the turn fails with `Unavailable` and recovery's
      outcome stands.
    - The concurrency lease is renewed while the turn runs (`_keep_slot`).
    - A lead sighting from the inputs and the user's message is recorded best effort.
    - The concurrency lease and the task registration are freed before the last event, so the
      client's next message is not refused as concurrent.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        clock: Clock,
        backend: LLMBackend,
        ledger: CreditLedger,
        accounting: TurnAccounting,
        limiter: ConcurrencyLimiter,
        gate: TurnGate,
        leads: LeadRecorder,
        policy: ChatPolicy,
        metrics: ChatMetrics | None = None,
    ) -> None:
        self._uow = uow
        self._metrics = metrics or NoChatMetrics()
        self._clock = clock
        self._backend = backend
        self._ledger = ledger
        self._accounting = accounting
        self._limiter = limiter
        self._gate = gate
        self._leads = leads
        self._policy = policy

    async def run(self, turn: ChatTurn, plan: TurnPlan) -> None:
        final: TurnFinished | TurnFailed = TurnFailed(Unavailable("the turn did not finish"))
        heartbeat = asyncio.create_task(self._keep_slot(plan.passed.lease))
        try:
            outcome = await self._produce(turn, plan)
            final = await self._account(plan, outcome)
            await self._record_lead(plan)
        except AstraError as exc:
            final = TurnFailed(exc)
        except Exception:
            logger.exception("chat turn %s failed while settling", plan.message_id)
            final = TurnFailed(AstraError("internal error"))
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            await _quietly(self._gate.leave, plan.passed)
            turn.emit(final)
            turn.close()

    async def _keep_slot(self, lease: Lease) -> None:
        """Renew the concurrency lease while the turn runs. It is short on purpose: if the
        release at the end is lost, the slot frees itself within one lease."""
        policy = self._policy
        while True:
            await asyncio.sleep(policy.slot_renew_seconds)
            try:
                if not await self._limiter.renew(lease, policy.slot_lease_seconds):
                    logger.warning("chat slot %s expired before its turn ended", lease.key)
                    return
            except Exception:
                # Redis unreachable for a moment: the next renewal may still make it.
                logger.warning("could not renew a chat slot", exc_info=True)

    async def _produce(self, turn: ChatTurn, plan: TurnPlan) -> _Outcome:
        outcome = _Outcome()
        started = time.monotonic()

        async def consume() -> None:
            request = build_request(plan.profile, plan.inputs, plan.history, plan.message_content)
            stream = self._backend.stream(request)
            try:
                async for event in stream:
                    if isinstance(event, TextDelta):
                        if event.text:
                            outcome.parts.append(event.text)
                            turn.emit(AnswerDelta(event.text))
                    else:
                        outcome.completion = event
            finally:
                # Closing the iterator closes the upstream request (also when cancelled).
                aclose = getattr(stream, "aclose", None)
                if aclose is not None:
                    await aclose()

        consumer = asyncio.create_task(consume())
        stop = asyncio.create_task(plan.passed.watch.stopped.wait())
        abort = asyncio.create_task(turn.abort_requested.wait())
        try:
            await asyncio.wait(
                {consumer, stop, abort},
                timeout=self._policy.max_turn_seconds,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            stop.cancel()
            abort.cancel()
            if not consumer.done():
                consumer.cancel()
                outcome.status = MessageStatus.ABORTED
                _blame(outcome, turn.abort_reason)
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(consumer, return_exceptions=True)
        outcome.latency = time.monotonic() - started
        if outcome.status is MessageStatus.COMPLETED and not consumer.cancelled():
            error = consumer.exception()
            if isinstance(error, AstraError):
                outcome.status, outcome.error = MessageStatus.FAILED, error
            elif error is not None:
                logger.error("chat model call failed", exc_info=error)
                outcome.status, outcome.error = MessageStatus.FAILED, AstraError("internal error")
        return outcome

    async def _account(self, plan: TurnPlan, outcome: _Outcome) -> TurnFinished | TurnFailed:
        now = self._clock.now()
        charged = outcome.status is not MessageStatus.FAILED and bool(outcome.answer)
        debited = plan.reserved if charged else 0
        usage = outcome.usage
        error = outcome.error
        reply = FinalReply(
            content=outcome.answer,
            status=outcome.status,
            credits=debited,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            error_code=int(error.code) if error else 0,
            # Nothing was charged and the cause was passing: a retry under the same
            # Idempotency-Key must run the turn again, not replay this failure.
            frees_idempotency_key=not charged
            and error is not None
            and error.code in RETRYABLE_CODES,
        )
        stored = StoredTurn(plan.tenant_id, plan.conversation_id, plan.message_id, plan.reserved)
        balance = await self._finish(stored, reply, now)
        if balance is None:
            balance = await self._balance_if_ours(stored, reply, now)
        self._metrics.turn_ended(outcome.status, debited, reply.error_code)
        if error is not None:
            return TurnFailed(error)
        return TurnFinished(outcome.answer, outcome.status, usage, debited, balance)

    async def _finish(self, stored: StoredTurn, reply: FinalReply, now: datetime) -> int | None:
        """`TurnAccounting.finish`, retried while the database is unreachable (a restart,
        a failover), within half the turn's deadline margin; after that the turn is left to
        recovery, which ends it by the same rule."""
        started = time.monotonic()
        budget = self._policy.turn_margin_seconds / 2
        for delay in (*ACCOUNT_RETRY_DELAYS, None):
            try:
                return await self._accounting.finish(stored, reply, now)
            except Unavailable:
                if delay is None or time.monotonic() - started + delay > budget:
                    raise
                logger.warning("chat turn %s: end not written yet, retrying", stored.message_id)
                # Jittered so the turns of a restarted database do not all come back at once.
                await asyncio.sleep(delay * random.uniform(0.5, 1.5))  # noqa: S311
        raise AssertionError("unreachable")  # pragma: no cover

    async def _balance_if_ours(self, stored: StoredTurn, reply: FinalReply, now: datetime) -> int:
        """The reply was final already. Ours when it reads as we wrote it (an attempt whose
        answer was lost, e.g. to a dropped connection, had committed); else recovery ended
        the turn first and its outcome stands."""
        async with self._uow() as uow:
            found = await uow.messages.get(stored.tenant_id, stored.message_id)
        if found is None or (found.status, found.content, found.credits) != (
            reply.status,
            reply.content,
            reply.credits,
        ):
            raise Unavailable("the reply could not be stored in time")
        return await self._ledger.balance(stored.tenant_id, now)

    async def _record_lead(self, plan: TurnPlan) -> None:
        facts = TurnFacts(
            tenant_id=plan.tenant_id,
            agent_id=plan.agent_id,
            conversation_id=plan.conversation_id,
            external_user_id=plan.external_user_id,
            source=plan.source,
            message_content=plan.message_content,
            inputs=plan.inputs,
        )
        try:
            sighting = sighting_for(facts, plan.profile.intentions)
            if sighting is not None:
                await self._leads.record(sighting)
        except Exception:
            # A lead is a by-product: losing one must never fail the reply.
            logger.warning("could not record the lead of turn %s", plan.message_id, exc_info=True)


def _blame(outcome: _Outcome, reason: AstraError | None) -> None:
    """An abort with a reason (shutdown) ends the turn with that error: what was streamed is
    kept and charged (aborted), a turn with nothing streamed yet fails and is released."""
    if reason is None:
        return
    outcome.error = reason
    if not outcome.answer:
        outcome.status = MessageStatus.FAILED


async def _quietly(release: Callable[[Any], Awaitable[None]], handle: Any) -> None:
    """Free a slot; when Redis is down the slot expires by itself, so only log."""
    try:
        await release(handle)
    except Exception:
        logger.warning("could not free a chat slot (%s)", type(handle).__name__, exc_info=True)
