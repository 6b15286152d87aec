"""The producing side of a chat turn: model call, stop handling, accounting and leads."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from application.agents.ports import AgentProfile, LeadRecorder
from application.billing.ledger import CreditLedger
from application.chat.commands import ChatPolicy
from application.chat.lead_extraction import TurnFacts, sighting_for
from application.chat.ports import (
    Completion,
    ConcurrencyLimiter,
    Lease,
    LLMBackend,
    StopWatch,
    TaskRegistry,
    TextDelta,
)
from application.chat.prompt import build_request
from application.chat.turn import AnswerDelta, ChatTurn, TurnFailed, TurnFinished, TurnUsage
from application.common.ports import Clock, UnitOfWorkFactory
from domain.chat.models import Message, MessageStatus
from domain.chat.rules import bounded_history
from domain.errors import AstraError, ErrorCode, Unavailable

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
    inputs: dict[str, Any]
    profile: AgentProfile
    user_message_id: str
    message_id: str  # the assistant message, also the ledger key
    reserved: int  # credits held for the reply (0: chat is free)
    lease: Lease
    watch: StopWatch


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
      the conversation counts it, before the last event is sent.
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
        limiter: ConcurrencyLimiter,
        registry: TaskRegistry,
        leads: LeadRecorder,
        policy: ChatPolicy,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._backend = backend
        self._ledger = ledger
        self._limiter = limiter
        self._registry = registry
        self._leads = leads
        self._policy = policy

    async def run(self, turn: ChatTurn, plan: TurnPlan) -> None:
        final: TurnFinished | TurnFailed = TurnFailed(Unavailable("the turn did not finish"))
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
            await _quietly(self._limiter.release, plan.lease)
            await _quietly(self._registry.finish, plan.watch)
            turn.emit(final)
            turn.close()

    async def _history(self, plan: TurnPlan) -> list[Message]:
        if self._policy.history_messages <= 0:
            return []
        async with self._uow() as uow:
            recent = await uow.messages.recent(
                plan.tenant_id, plan.conversation_id, self._policy.history_messages + 2
            )
        # The turn's own user message and pending reply are already stored: leave them out.
        own = {plan.user_message_id, plan.message_id}
        earlier = [m for m in recent if m.id not in own]
        newest = earlier[-self._policy.history_messages :]
        return bounded_history(newest, self._policy.history_chars)

    async def _produce(self, turn: ChatTurn, plan: TurnPlan) -> _Outcome:
        outcome = _Outcome()
        started = time.monotonic()

        async def consume() -> None:
            history = await self._history(plan)
            request = build_request(plan.profile, plan.inputs, history, plan.message_content)
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
        stop = asyncio.create_task(plan.watch.stopped.wait())
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
        debited = 0
        if plan.reserved:
            if charged:
                await self._ledger.settle(plan.message_id, plan.reserved, now)
                debited = plan.reserved
            else:
                await self._ledger.release(plan.message_id, now)
        balance = await self._ledger.balance(plan.tenant_id, now)
        usage = outcome.usage
        async with self._uow() as uow:
            message = await uow.messages.get(plan.tenant_id, plan.message_id)
            if message is not None:
                message.content = outcome.answer
                message.status = outcome.status
                message.credits = debited
                message.prompt_tokens = usage.prompt_tokens
                message.completion_tokens = usage.completion_tokens
                message.error_code = int(outcome.error.code) if outcome.error else 0
                if outcome.error is not None and outcome.error.code in RETRYABLE_CODES:
                    # Nothing was charged and the cause was passing: a retry under the same
                    # Idempotency-Key must run the turn again, not replay this failure.
                    message.idempotency_key = ""
                await uow.messages.update(message)
            await uow.conversations.record_messages(plan.tenant_id, plan.conversation_id, 1, now)
            await uow.commit()
        if outcome.error is not None:
            return TurnFailed(outcome.error)
        return TurnFinished(outcome.answer, outcome.status, usage, debited, balance)

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


async def _quietly(release: Callable[[Any], Awaitable[None]], handle: Any) -> None:
    """Free a slot; when Redis is down the slot expires by itself, so only log."""
    try:
        await release(handle)
    except Exception:
        logger.warning("could not free a chat slot (%s)", type(handle).__name__, exc_info=True)
