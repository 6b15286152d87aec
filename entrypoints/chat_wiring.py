"""Wires the chat use cases to the model backend, limits and stores the root picked."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from redis.asyncio import Redis

from adapters.jobs import RepeatingJob
from adapters.memory.concurrency import MemoryConcurrencyLimiter
from adapters.memory.tasks import MemoryTaskRegistry
from adapters.redis.concurrency import RedisConcurrencyLimiter
from adapters.redis.limits import RedisRateLimiter
from adapters.redis.tasks import RedisTaskRegistry
from adapters.redis.turn_gate import RedisTurnGate
from application.agents.ports import AgentReader, LeadRecorder
from application.billing.ledger import CreditLedger
from application.chat.accounting import TurnAccounting
from application.chat.commands import ChatPolicy
from application.chat.conversations import ListConversationMessages, ListConversations
from application.chat.gate import StepwiseTurnGate
from application.chat.ports import (
    ChatMetrics,
    ConcurrencyLimiter,
    LLMBackend,
    TaskRegistry,
    TurnGate,
)
from application.chat.producer import TurnProducer
from application.chat.recovery import RecoverStaleTurns
from application.chat.send_message import SendChatMessage
from application.chat.stop import StopChat
from application.common.ports import Clock, IdGenerator, RateLimiter, UnitOfWorkFactory
from entrypoints.llm_wiring import open_llm_backend
from entrypoints.metrics import PrometheusChatMetrics
from entrypoints.settings import Settings

logger = logging.getLogger("astra.chat.recovery")


@dataclass(frozen=True, slots=True)
class ChatUseCases:
    policy: ChatPolicy
    send: SendChatMessage
    stop: StopChat
    list_conversations: ListConversations
    list_messages: ListConversationMessages
    recover: RecoverStaleTurns


def wire_chat(
    *,
    uow: UnitOfWorkFactory,
    clock: Clock,
    ids: IdGenerator,
    agents: AgentReader,
    backend: LLMBackend,
    ledger: CreditLedger,
    limiter: ConcurrencyLimiter,
    rate_limiter: RateLimiter,
    registry: TaskRegistry,
    leads: LeadRecorder,
    policy: ChatPolicy,
    gate: TurnGate | None = None,
    metrics: ChatMetrics | None = None,
) -> ChatUseCases:
    """`gate` takes a turn's limits in one step (Redis); by default they are taken one after
    the other from `limiter`, `rate_limiter` and `registry`."""
    gate = gate or StepwiseTurnGate(limiter, rate_limiter, registry)
    accounting = TurnAccounting(uow, ledger)
    producer = TurnProducer(
        uow=uow,
        clock=clock,
        backend=backend,
        ledger=ledger,
        accounting=accounting,
        limiter=limiter,
        gate=gate,
        leads=leads,
        policy=policy,
        metrics=metrics,
    )
    return ChatUseCases(
        policy=policy,
        send=SendChatMessage(
            uow=uow,
            clock=clock,
            ids=ids,
            agents=agents,
            ledger=ledger,
            gate=gate,
            producer=producer,
            policy=policy,
        ),
        stop=StopChat(uow, registry),
        list_conversations=ListConversations(uow),
        list_messages=ListConversationMessages(uow),
        recover=RecoverStaleTurns(
            uow=uow,
            clock=clock,
            ledger=ledger,
            accounting=accounting,
            registry=registry,
            policy=policy,
        ),
    )


@asynccontextmanager
async def open_chat(
    *,
    settings: Settings,
    redis: Redis | None,
    uow: UnitOfWorkFactory,
    clock: Clock,
    ids: IdGenerator,
    agents: AgentReader,
    ledger: CreditLedger,
    rate_limiter: RateLimiter,
    leads: LeadRecorder,
    backend: LLMBackend | None = None,
    run_recovery: bool = False,
) -> AsyncIterator[ChatUseCases]:
    """Chat with its limits in Redis when configured (memory on the embedded default) and the
    configured model backend (or `backend`); with `run_recovery`, recovery repeats every
    `settings.recovery_interval_seconds`. On exit running turns stop and settle before
    anything closes."""
    limiter: ConcurrencyLimiter
    registry: TaskRegistry
    gate: TurnGate | None = None
    async with AsyncExitStack() as stack:
        if redis is not None:
            leases = RedisConcurrencyLimiter(redis, prefix=settings.redis_prefix)
            tasks = await stack.enter_async_context(
                RedisTaskRegistry.open(redis, settings.redis_prefix)
            )
            limiter, registry = leases, tasks
            if isinstance(rate_limiter, RedisRateLimiter):
                gate = RedisTurnGate(redis, leases, rate_limiter, tasks)
        else:
            limiter = MemoryConcurrencyLimiter(clock)
            registry = MemoryTaskRegistry(clock)
        if backend is None:
            backend = await stack.enter_async_context(open_llm_backend(settings))
        chat = wire_chat(
            uow=uow,
            clock=clock,
            ids=ids,
            agents=agents,
            backend=backend,
            ledger=ledger,
            limiter=limiter,
            rate_limiter=rate_limiter,
            registry=registry,
            gate=gate,
            leads=leads,
            metrics=PrometheusChatMetrics(),
            policy=ChatPolicy(
                credits_per_message=settings.credits_per_message,
                concurrency_per_user=settings.chat_concurrency_per_user,
                rate_per_tenant_per_minute=settings.chat_rate_per_tenant_per_minute,
                history_messages=settings.chat_history_messages,
                max_turn_seconds=settings.chat_max_turn_seconds,
                turn_margin_seconds=settings.chat_turn_margin_seconds,
                slot_lease_seconds=settings.chat_slot_lease_seconds,
            ),
        )
        stack.push_async_callback(chat.send.aclose)
        if run_recovery:
            recovery = RepeatingJob(
                chat.recover.run_once,
                settings.recovery_interval_seconds,
                name="chat recovery",
                logger=logger,
            )
            recovery.start()
            stack.push_async_callback(recovery.stop)
        yield chat
