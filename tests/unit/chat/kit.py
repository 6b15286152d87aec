"""The chat use cases over the in-memory unit of work, a scripted model and memory limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from adapters.memory.concurrency import MemoryConcurrencyLimiter
from adapters.memory.tasks import MemoryTaskRegistry
from adapters.memory.uow import InMemoryStore, InMemoryUnitOfWorkFactory
from application.agents.ports import AgentProfile
from application.billing.ledger import CreditLedger
from application.chat.commands import ChatPolicy, ChatTurnRequest
from application.chat.ports import ConcurrencyLimiter
from application.chat.turn import ChatTurn, TurnFailed, TurnFinished
from application.common.caller import Caller
from domain.billing.ledger import GrantSource, GrantSpec
from domain.chat.models import Message
from domain.tenancy.policy import Scope
from entrypoints.chat_wiring import wire_chat
from tests.fakes.chat import RecordingLeads, ScriptedBackend, StaticAgentReader, make_profile
from tests.fakes.clock import FixedClock
from tests.fakes.ids import SequentialIds
from tests.fakes.limits import FakeRateLimiter

TENANT = "tenant-1"
OTHER_TENANT = "tenant-2"
USER = "end-user-1"


def key_caller(tenant_id: str = TENANT, *scopes: Scope) -> Caller:
    return Caller.api_key(tenant_id, "key-1", frozenset(scopes or {Scope.CHAT_WRITE}))


@dataclass
class ChatKit:
    policy: ChatPolicy = field(default_factory=ChatPolicy)
    backend: ScriptedBackend = field(default_factory=ScriptedBackend)
    clock: FixedClock = field(default_factory=FixedClock)
    store: InMemoryStore = field(default_factory=InMemoryStore)
    # A concurrency limiter of the test's own (failing, recording); memory leases otherwise.
    limiter_override: ConcurrencyLimiter | None = None

    def __post_init__(self) -> None:
        self.uow = InMemoryUnitOfWorkFactory(self.store)
        self.ids = SequentialIds("chat")
        self.ledger = CreditLedger(self.uow, SequentialIds("grant"))
        self.agents = StaticAgentReader()
        self.leads = RecordingLeads()
        self.limiter: ConcurrencyLimiter = self.limiter_override or MemoryConcurrencyLimiter(
            self.clock
        )
        self.rate = FakeRateLimiter(self.clock)
        self.registry = MemoryTaskRegistry(self.clock)
        chat = wire_chat(
            uow=self.uow,
            clock=self.clock,
            ids=self.ids,
            agents=self.agents,
            backend=self.backend,
            ledger=self.ledger,
            limiter=self.limiter,
            rate_limiter=self.rate,
            registry=self.registry,
            leads=self.leads,
            policy=self.policy,
        )
        self.send = chat.send
        self.stop = chat.stop
        self.conversations = chat.list_conversations
        self.messages = chat.list_messages
        self.recover = chat.recover

    def agent(self, tenant_id: str = TENANT, **config: object) -> AgentProfile:
        return self.agents.add(make_profile(tenant_id, **config))  # type: ignore[arg-type]

    async def give_credits(self, amount: int, tenant_id: str = TENANT) -> None:
        now = self.clock.now()
        spec = GrantSpec(
            GrantSource.ADJUSTMENT, amount, now, now + timedelta(days=30), f"test:{amount}"
        )
        await self.ledger.grant(tenant_id, spec, now)

    async def balance(self, tenant_id: str = TENANT) -> int:
        return await self.ledger.balance(tenant_id, self.clock.now())

    def request(
        self, agent: AgentProfile, message: str = "hi", **fields: object
    ) -> ChatTurnRequest:
        values: dict[str, object] = {
            "caller": key_caller(agent.agent.tenant_id),
            "agent_id": agent.agent.id,
            "external_user_id": USER,
            "message_content": message,
        }
        values.update(fields)
        return ChatTurnRequest(**values)  # type: ignore[arg-type]

    async def turn(self, agent: AgentProfile, message: str = "hi", **fields: object) -> ChatTurn:
        self.clock.advance(seconds=1)  # turns of one conversation sort by time
        return await self.send.start(self.request(agent, message, **fields))

    async def finished(
        self, agent: AgentProfile, message: str = "hi", **fields: object
    ) -> tuple[ChatTurn, TurnFinished]:
        turn = await self.turn(agent, message, **fields)
        result = await turn.result()
        assert isinstance(result, TurnFinished), result
        return turn, result

    async def failed(self, turn: ChatTurn) -> TurnFailed:
        result = await turn.result()
        assert isinstance(result, TurnFailed), result
        return result

    def stored(self, message_id: str) -> Message:
        return self.store.chat.messages[message_id]
