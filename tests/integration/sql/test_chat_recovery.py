"""Recovery racing late live turn ends on PostgreSQL and SQLite: exactly one ends each turn.

Each test has a database of its own: recovery looks at every tenant's overdue turns, and must
not end another test's.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from adapters.memory.tasks import MemoryTaskRegistry
from adapters.sql.billing.ledger_records import CreditGrantRecord, CreditReservationRecord
from adapters.sql.engine import create_engine, create_sessionmaker
from adapters.sql.migrate import upgrade
from adapters.sql.uow import SqlUnitOfWorkFactory
from application.billing.ledger import CreditLedger
from application.chat.accounting import StoredTurn, TurnAccounting
from application.chat.commands import ChatPolicy
from application.chat.ports import FinalReply
from application.chat.recovery import RecoverStaleTurns, recovered_reply
from domain.billing.ledger import GrantSource, GrantSpec, ReservationStatus
from domain.chat.models import Message, MessageRole, MessageStatus
from tests.fakes.clock import FixedClock
from tests.fakes.ids import SequentialIds
from tests.integration.sql.factories import make_tenant, new_id
from tests.integration.sql.test_chat_repositories import make_conversation, make_message

TURNS = 40
GRANTED = 100
POLICY = ChatPolicy()


@pytest.fixture(params=["postgresql", "sqlite"])
async def own_uows(
    request: pytest.FixtureRequest, fresh_postgres_url: str, tmp_path: Path
) -> AsyncIterator[SqlUnitOfWorkFactory]:
    url = (
        fresh_postgres_url
        if request.param == "postgresql"
        else f"sqlite+aiosqlite:///{tmp_path / 'recovery.db'}"
    )
    await upgrade(url)
    # A connection per concurrent writer, so the live ends and recovery really overlap.
    engine = create_engine(url, pool_size=TURNS + 5)
    try:
        yield SqlUnitOfWorkFactory(create_sessionmaker(engine))
    finally:
        await engine.dispose()


async def started_turns(
    uows: SqlUnitOfWorkFactory, ledger: CreditLedger, clock: FixedClock
) -> tuple[str, list[Message]]:
    """A funded tenant with TURNS stored turns, each holding 1 credit, none ended."""
    tenant = make_tenant()
    now = clock.now()
    async with uows() as uow:
        await uow.tenants.add(tenant)
        await uow.commit()
    spec = GrantSpec(GrantSource.ADJUSTMENT, GRANTED, now, now + timedelta(days=30), "test")
    await ledger.grant(tenant.id, spec, now)
    hold_until = now + timedelta(seconds=POLICY.turn_deadline_seconds)
    replies = []
    for _ in range(TURNS):
        conversation = make_conversation(tenant.id, message_count=1, created_at=now)
        reply = make_message(
            conversation,
            role=MessageRole.ASSISTANT,
            content="",
            status=MessageStatus.PENDING,
            task_id=new_id(),
            created_at=now,
        )
        async with uows() as uow:
            await uow.conversations.add(conversation)
            await uow.messages.add(make_message(conversation, created_at=now))
            await uow.messages.add(reply)
            await ledger.reserve_in(uow, tenant.id, 1, reply.id, reply.agent_id, now, hold_until)
            await uow.commit()
        replies.append(reply)
    return tenant.id, replies


async def audit(uows: SqlUnitOfWorkFactory, tenant_id: str) -> tuple[int, int, int]:
    """(credits available, held, spent), straight from the tables."""
    async with uows() as uow:
        session = uow.ledger._session
        available = await session.scalar(
            select(func.sum(CreditGrantRecord.remaining)).where(
                CreditGrantRecord.tenant_id == tenant_id
            )
        )
        held = await session.scalar(
            select(func.coalesce(func.sum(CreditReservationRecord.amount), 0)).where(
                CreditReservationRecord.tenant_id == tenant_id,
                CreditReservationRecord.status == ReservationStatus.RESERVED.value,
            )
        )
        spent = await session.scalar(
            select(func.coalesce(func.sum(CreditReservationRecord.settled_amount), 0)).where(
                CreditReservationRecord.tenant_id == tenant_id
            )
        )
    return int(available or 0), int(held or 0), int(spent or 0)


async def test_recovery_and_late_live_ends_race_and_exactly_one_ends_each_turn(
    own_uows: SqlUnitOfWorkFactory,
) -> None:
    clock = FixedClock()
    ledger = CreditLedger(own_uows, SequentialIds("grant"))
    accounting = TurnAccounting(own_uows, ledger)
    tenant_id, replies = await started_turns(own_uows, ledger, clock)
    clock.advance(seconds=POLICY.turn_deadline_seconds + 1)
    now = clock.now()
    # Three replicas' recovery rounds at once, none of which sees the turns registered.
    recoverers = [
        RecoverStaleTurns(
            uow=own_uows,
            clock=clock,
            ledger=ledger,
            accounting=accounting,
            registry=MemoryTaskRegistry(clock),
            policy=POLICY,
            batch=4,  # many small rounds, so recovery works through the turns as they end
        )
        for _ in range(3)
    ]
    answer = FinalReply("the answer", MessageStatus.COMPLETED, 1, 5, 2)

    async def live_end(index: int, reply: Message) -> bool:
        # Spread over the recovery rounds (ordering only, not a wait for anything).
        for _ in range(index * 4):
            await asyncio.sleep(0)
        stored = StoredTurn(tenant_id, reply.conversation_id, reply.id, 1)
        return await accounting.finish(stored, answer, now) is not None

    async def recover_all(recoverer: RecoverStaleTurns) -> int:
        ended = 0
        while done := await recoverer.run_once():
            ended += done
        return ended

    results = await asyncio.gather(
        *(live_end(i, reply) for i, reply in enumerate(replies)),
        *(recover_all(r) for r in recoverers),
    )
    live_wins = sum(1 for won in results[:TURNS] if won)
    recovered = sum(int(n) for n in results[TURNS:])
    assert live_wins + recovered == TURNS

    async with own_uows() as uow:
        stored = [await uow.messages.get(tenant_id, reply.id) for reply in replies]
        holds = [await uow.ledger.get_reservation(reply.id) for reply in replies]
        conversations = [
            await uow.conversations.get(tenant_id, reply.conversation_id) for reply in replies
        ]
    for message, hold, conversation in zip(stored, holds, conversations, strict=True):
        assert message is not None
        assert hold is not None
        assert conversation is not None
        assert conversation.message_count == 2  # the reply counted exactly once
        if message.status is MessageStatus.COMPLETED:
            assert (message.content, message.credits) == ("the answer", 1)
            assert (hold.status, hold.settled_amount) == (ReservationStatus.SETTLED, 1)
        else:
            assert (message.status, message.content) == (MessageStatus.FAILED, "")
            assert hold.status is ReservationStatus.RELEASED
    available, held, spent = await audit(own_uows, tenant_id)
    assert held == 0
    assert spent == live_wins
    assert available + held + spent == GRANTED
    # Nothing is left for a later round.
    assert await recoverers[0].run_once() == 0


async def test_a_turn_still_within_its_deadline_is_not_touched(
    own_uows: SqlUnitOfWorkFactory,
) -> None:
    clock = FixedClock()
    ledger = CreditLedger(own_uows, SequentialIds("grant"))
    tenant_id, replies = await started_turns(own_uows, ledger, clock)
    clock.advance(seconds=POLICY.turn_deadline_seconds - 1)
    recoverer = RecoverStaleTurns(
        uow=own_uows,
        clock=clock,
        ledger=ledger,
        accounting=TurnAccounting(own_uows, ledger),
        registry=MemoryTaskRegistry(clock),
        policy=POLICY,
    )
    assert await recoverer.run_once() == 0
    assert await audit(own_uows, tenant_id) == (GRANTED - TURNS, TURNS, 0)
    async with own_uows() as uow:
        message = await uow.messages.get(tenant_id, replies[0].id)
    assert message is not None
    assert message.status is MessageStatus.PENDING


async def test_whichever_ends_a_turn_first_wins_and_the_second_changes_nothing(
    own_uows: SqlUnitOfWorkFactory,
) -> None:
    clock = FixedClock()
    ledger = CreditLedger(own_uows, SequentialIds("grant"))
    accounting = TurnAccounting(own_uows, ledger)
    tenant_id, replies = await started_turns(own_uows, ledger, clock)
    now = clock.now()
    answer = FinalReply("the answer", MessageStatus.COMPLETED, 1, 5, 2)
    given_up = recovered_reply(replies[0], 1)
    live_first, recovery_first = (
        StoredTurn(tenant_id, reply.conversation_id, reply.id, 1) for reply in replies[:2]
    )
    assert await accounting.finish(live_first, answer, now) == GRANTED - TURNS
    assert await accounting.finish(live_first, given_up, now) is None
    assert await accounting.finish(recovery_first, given_up, now) == GRANTED - TURNS + 1
    assert await accounting.finish(recovery_first, answer, now) is None
    async with own_uows() as uow:
        first = await uow.messages.get(tenant_id, replies[0].id)
        second = await uow.messages.get(tenant_id, replies[1].id)
    assert first is not None
    assert second is not None
    assert (first.status, second.status) == (MessageStatus.COMPLETED, MessageStatus.FAILED)
    assert await audit(own_uows, tenant_id) == (GRANTED - TURNS + 1, TURNS - 2, 1)
