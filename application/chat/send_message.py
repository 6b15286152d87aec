"""SendChatMessage: every check of contract §6, then the turn runs on its own task."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

from application.agents.ports import AgentProfile, AgentReader
from application.billing.ledger import CreditLedger
from application.chat.commands import ChatPolicy, ChatTurnRequest
from application.chat.idempotency import (
    PENDING_RETRY_AFTER,
    fingerprint,
    replayed_turn,
    stored_attempt,
)
from application.chat.ports import RunningTask, TurnGate, TurnLimits, TurnRefusal
from application.chat.producer import TurnPlan, TurnProducer
from application.chat.prompt import merged_inputs
from application.chat.turn import ChatTurn
from application.common.ports import Clock, IdGenerator, UnitOfWork, UnitOfWorkFactory
from application.tenancy.access import authorize
from domain.billing.ledger import INSUFFICIENT_CREDITS
from domain.chat.models import Conversation, Message, MessageRole, MessageStatus
from domain.chat.rules import (
    bounded_history,
    check_idempotency_key,
    check_turn_fields,
    parse_response_mode,
)
from domain.errors import (
    AlreadyExists,
    FailedPrecondition,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unavailable,
)
from domain.tenancy.policy import Action

logger = logging.getLogger("astra.chat")

# How long `aclose` lets running turns stop and settle at shutdown.
SHUTDOWN_WAIT_SECONDS = 5.0
SHUTTING_DOWN_MESSAGE = "the server is shutting down; send the message again"


def concurrency_key(tenant_id: str, external_user_id: str) -> str:
    return f"chat:{tenant_id}:{external_user_id}"


def rate_key(tenant_id: str) -> str:
    return f"chat:tenant:{tenant_id}"


class SendChatMessage:
    """Chat (contract §6). `start` checks and reserves, then returns a running `ChatTurn`.

    - Checks in order: credential (HTTP edge), tenant (body `tenant_id` must be the caller's
      own, else `PermissionDenied`), agent (`NotFound`), conversation (unknown, or of another
      agent or end user → `NotFound`), the idempotency key, per end-user concurrency and the
      per-tenant rate limit (`ResourceExhausted`), credits (`FailedPrecondition`).
    - Limits live in Redis when configured; Redis unreachable → `Unavailable`.
    - `Idempotency-Key`: the same key and request replay the stored reply without touching
      the ledger (the first attempt still running → `ResourceExhausted`, retry after 1 s);
      the same key with another request → `InvalidArgument`.
    - The credit reservation, the user message, the `pending` assistant message (and a new
      conversation) are stored all or nothing (one statement on PostgreSQL); the prompt
      history of an existing conversation is read with the checks, before. The turn then
      runs as its own task, so its accounting finishes even when the HTTP request goes
      away. Errors raised by `start` happen before any model call and before any stream is
      opened.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        clock: Clock,
        ids: IdGenerator,
        agents: AgentReader,
        ledger: CreditLedger,
        gate: TurnGate,
        producer: TurnProducer,
        policy: ChatPolicy,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._ids = ids
        self._agents = agents
        self._ledger = ledger
        self._gate = gate
        self._producer = producer
        self._policy = policy
        self._running: dict[ChatTurn, asyncio.Task[None]] = {}

    async def start(self, request: ChatTurnRequest) -> ChatTurn:
        check_turn_fields(request.agent_id, request.external_user_id, request.message_content)
        parse_response_mode(request.response_mode)
        check_idempotency_key(request.idempotency_key)
        key = request.idempotency_key
        request_fingerprint = fingerprint(request) if key else ""
        # Reads only, none needing a snapshot shared with the others: no transaction.
        async with self._uow.reading() as uow:
            tenant_id = await _own_tenant(uow, request)
            profile = await self._agents.profile(tenant_id, request.agent_id)
            if profile is None:
                raise NotFound("agent not found")
            if request.conversation_id:
                await _check_conversation(uow, tenant_id, request)
            stored = await stored_attempt(uow, tenant_id, key, request_fingerprint)
            history: list[Message] = []
            if stored is None and request.conversation_id:
                # Read here, before this turn's messages exist (they are not history), so
                # storing them can be one statement.
                history = await self._history(uow, tenant_id, request.conversation_id)
        if stored is not None:
            return await self._replay(stored)
        turn = await self._begin(request, tenant_id, profile, request_fingerprint, history)
        if turn is None:  # lost an idempotency race: the winner's reply is the answer
            async with self._uow.reading() as uow:
                stored = await stored_attempt(uow, tenant_id, key, request_fingerprint)
            if stored is None:  # pragma: no cover - the winner committed before we lost
                raise ResourceExhausted("retry later", retry_after=PENDING_RETRY_AFTER)
            return await self._replay(stored)
        return turn

    async def _begin(
        self,
        request: ChatTurnRequest,
        tenant_id: str,
        profile: AgentProfile,
        request_fingerprint: str,
        history: list[Message],
    ) -> ChatTurn | None:
        policy = self._policy
        now = self._clock.now()
        task_id, user_message_id, message_id = (self._ids.new_id() for _ in range(3))
        conversation_id = request.conversation_id or self._ids.new_id()
        async with AsyncExitStack() as undo:
            passed = await self._gate.enter(
                TurnLimits(
                    slot_key=concurrency_key(tenant_id, request.external_user_id),
                    slots=policy.concurrency_per_user,
                    lease_seconds=policy.slot_lease_seconds,
                    rate_key=rate_key(tenant_id),
                    rate_limit=policy.rate_per_tenant_per_minute,
                    rate_window_seconds=60,
                    task=RunningTask(task_id, tenant_id, request.external_user_id),
                    task_ttl_seconds=policy.turn_deadline_seconds,
                )
            )
            if isinstance(passed, TurnRefusal):
                if passed.slot_taken:
                    raise ResourceExhausted(
                        "another message of this user is still being answered",
                        retry_after=PENDING_RETRY_AFTER,
                    )
                raise ResourceExhausted(
                    "too many chat messages for this tenant", retry_after=passed.retry_after
                )
            undo.push_async_callback(_quietly, self._gate.leave, passed)
            user_message = Message(
                id=user_message_id,
                tenant_id=tenant_id,
                conversation_id=conversation_id,
                agent_id=profile.agent.id,
                role=MessageRole.USER,
                content=request.message_content,
                status=MessageStatus.COMPLETED,
                credits=0,
                created_at=now,
            )
            reply = Message(
                id=message_id,
                tenant_id=tenant_id,
                conversation_id=conversation_id,
                agent_id=profile.agent.id,
                role=MessageRole.ASSISTANT,
                content="",
                status=MessageStatus.PENDING,
                credits=0,
                created_at=now,
                task_id=task_id,
                idempotency_key=request.idempotency_key,
                request_hash=request_fingerprint,
            )
            new_conversation = None
            if not request.conversation_id:
                new_conversation = Conversation(
                    id=conversation_id,
                    tenant_id=tenant_id,
                    agent_id=profile.agent.id,
                    external_user_id=request.external_user_id,
                    source=request.source,
                    message_count=1,  # the user message is visible (and counted) at once
                    created_at=now,
                    updated_at=now,
                )
            reserved = policy.credits_per_message
            if not await self._store(new_conversation, user_message, reply, reserved):
                return None  # the exit stack frees what was taken
            undo.pop_all()
        turn = ChatTurn(
            task_id=task_id,
            message_id=message_id,
            conversation_id=conversation_id,
            created_at=now,
            tenant_id=tenant_id,
            agent_id=profile.agent.id,
        )
        plan = TurnPlan(
            tenant_id=tenant_id,
            agent_id=profile.agent.id,
            conversation_id=conversation_id,
            external_user_id=request.external_user_id,
            source=request.source,
            message_content=request.message_content,
            history=history,
            inputs=merged_inputs(profile, request.inputs),
            profile=profile,
            user_message_id=user_message_id,
            message_id=message_id,
            reserved=reserved,
            passed=passed,
        )
        task = asyncio.create_task(self._producer.run(turn, plan), name=f"chat-turn-{task_id}")
        self._running[turn] = task
        task.add_done_callback(lambda _: self._running.pop(turn, None))
        return turn

    async def _store(
        self, new_conversation: Conversation | None, user: Message, reply: Message, reserved: int
    ) -> bool:
        """All or nothing: the messages (and a new conversation) and the reservation of
        `reserved` credits keyed by the reply's id. False when another attempt took the
        idempotency key first.

        With one-statement storage (PostgreSQL) that is one round trip, after the due grants
        are committed. Otherwise one unit of work where only the database is awaited: the
        reservation keeps the tenant's grant rows locked until the commit, so it comes last,
        after the rows of this conversation (the order the turn's end locks them in too).
        """
        tenant_id, conversation_id, now = user.tenant_id, user.conversation_id, user.created_at
        hold_until = now + timedelta(seconds=self._policy.turn_deadline_seconds)
        try:
            async with self._uow() as uow:
                turns = uow.messages.atomic_turns() if reserved else None
                if turns is not None:
                    await self._ledger.commit_due(uow, tenant_id, now)
                    started = await turns.start(
                        new_conversation, user, reply, reserved, now, hold_until
                    )
                    if not started:
                        raise FailedPrecondition(INSUFFICIENT_CREDITS)
                    return True
                if new_conversation is None:
                    # The user message is visible (and counted) at once; the reply when final.
                    await uow.conversations.record_messages(tenant_id, conversation_id, 1, now)
                else:
                    await uow.conversations.add(new_conversation)  # already counts the user's
                await uow.messages.add(user)
                await uow.messages.add(reply)
                if reserved:
                    await self._ledger.reserve_in(
                        uow, tenant_id, reserved, reply.id, reply.agent_id, now, hold_until
                    )
                await uow.commit()
        except AlreadyExists:
            # Only the reply's idempotency key can clash (every id here is new, the
            # reservation key too), at the insert or, for a concurrent transaction, at the
            # commit.
            return False
        return True

    async def _history(
        self, uow: UnitOfWork, tenant_id: str, conversation_id: str
    ) -> list[Message]:
        limit = self._policy.history_messages
        if limit <= 0:
            return []
        recent = await uow.messages.recent(tenant_id, conversation_id, limit)
        return bounded_history(recent, self._policy.history_chars)

    async def _replay(self, stored: Message) -> ChatTurn:
        balance = 0
        if stored.status is not MessageStatus.FAILED:
            balance = await self._ledger.balance(stored.tenant_id, self._clock.now())
        return replayed_turn(stored, balance)

    def end_running(self) -> int:
        """At shutdown, once the grace period is over: end every running turn with `14`
        (streams get an `error` event; what was streamed is settled, the rest released).
        Returns how many turns were asked to end."""
        running = list(self._running)
        for turn in running:
            # One error each: a blocking request raises it, and raising records a traceback.
            turn.request_abort(Unavailable(SHUTTING_DOWN_MESSAGE, retry_after=1))
        return len(running)

    async def aclose(self, wait_seconds: float = SHUTDOWN_WAIT_SECONDS) -> None:
        """At shutdown: end every running turn and let it settle (bounded wait)."""
        tasks = list(self._running.values())
        self.end_running()
        if tasks:
            await asyncio.wait(tasks, timeout=wait_seconds)

    @property
    def running(self) -> int:
        return len(self._running)


async def _own_tenant(uow: UnitOfWork, request: ChatTurnRequest) -> str:
    """The caller's tenant; a body `tenant_id` naming another one is refused (§4, §6)."""
    access = await authorize(uow, request.caller, Action.CHAT)
    if request.tenant_id and request.tenant_id != access.tenant_id:
        raise PermissionDenied("tenant_id must be your own tenant")
    return access.tenant_id


async def _check_conversation(uow: UnitOfWork, tenant_id: str, request: ChatTurnRequest) -> None:
    conversation = await uow.conversations.get(tenant_id, request.conversation_id)
    if (
        conversation is None
        or conversation.agent_id != request.agent_id
        or conversation.external_user_id != request.external_user_id
    ):
        raise NotFound("conversation not found")


async def _quietly(release: Callable[..., Awaitable[None]], *args: Any) -> None:
    try:
        await release(*args)
    except Exception:
        logger.warning("could not undo a chat turn step", exc_info=True)
