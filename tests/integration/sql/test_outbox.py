"""The email outbox: rows queued in the unit of work, leased exclusively, then settled."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.common.records import EmailOutboxRecord
from adapters.sql.engine import create_engine, create_sessionmaker
from adapters.sql.migrate import upgrade
from adapters.sql.outbox import LEASE, SqlPendingEmailQueue
from adapters.sql.uow import SqlUnitOfWorkFactory
from application.common.ports import OutgoingEmail
from tests.integration.sql.conftest import BACKENDS
from tests.integration.sql.factories import utc_now


@pytest.fixture(params=BACKENDS)
async def outbox_engine(
    request: pytest.FixtureRequest, fresh_postgres_url: str, fresh_sqlite_url: str
) -> AsyncIterator[AsyncEngine]:
    """A database of the test's own: claims see every due row, so no other test may add one."""
    url = fresh_postgres_url if request.param == "postgresql" else fresh_sqlite_url
    await upgrade(url)
    engine = create_engine(url, pool_size=10)
    try:
        yield engine
    finally:
        await engine.dispose()


async def queue_emails(engine: AsyncEngine, count: int, now: datetime) -> list[OutgoingEmail]:
    emails = [
        OutgoingEmail(to=f"user{i}@example.com", subject=f"Code {i}", text=f"Your code is {i}")
        for i in range(count)
    ]
    factory = SqlUnitOfWorkFactory(create_sessionmaker(engine), now=lambda: now)
    async with factory() as uow:
        for email in emails:
            await uow.outbox.add(email)
        await uow.commit()
    return emails


async def load(engine: AsyncEngine, email_id: str) -> EmailOutboxRecord:
    async with create_sessionmaker(engine)() as session:
        record = await session.scalar(
            select(EmailOutboxRecord).where(EmailOutboxRecord.id == email_id)
        )
    assert record is not None
    return record


async def test_due_emails_are_claimed_once_until_the_lease_expires(
    outbox_engine: AsyncEngine,
) -> None:
    now = utc_now()
    emails = await queue_emails(outbox_engine, 3, now)
    queue = SqlPendingEmailQueue(outbox_engine)

    claimed = await queue.claim_due(now, limit=10)
    again = await queue.claim_due(now + LEASE - timedelta(seconds=1), limit=10)
    after_lease = await queue.claim_due(now + LEASE, limit=10)

    assert sorted(p.email.to for p in claimed) == sorted(e.to for e in emails)
    assert {p.email for p in claimed} == set(emails)
    assert all(p.attempts == 0 for p in claimed)
    assert again == []
    assert {p.id for p in after_lease} == {p.id for p in claimed}


async def test_emails_queued_later_than_now_are_not_due(outbox_engine: AsyncEngine) -> None:
    now = utc_now()
    await queue_emails(outbox_engine, 1, now + timedelta(minutes=1))
    queue = SqlPendingEmailQueue(outbox_engine)

    assert await queue.claim_due(now, limit=10) == []
    assert len(await queue.claim_due(now + timedelta(minutes=1), limit=10)) == 1


async def test_claims_respect_the_limit(outbox_engine: AsyncEngine) -> None:
    now = utc_now()
    await queue_emails(outbox_engine, 5, now)
    queue = SqlPendingEmailQueue(create_sessionmaker(outbox_engine))

    first = await queue.claim_due(now, limit=2)
    second = await queue.claim_due(now, limit=10)

    assert len(first) == 2
    assert len(second) == 3
    assert not {p.id for p in first} & {p.id for p in second}


async def test_sent_emails_are_never_claimed_again(outbox_engine: AsyncEngine) -> None:
    now = utc_now()
    await queue_emails(outbox_engine, 1, now)
    queue = SqlPendingEmailQueue(outbox_engine)
    [pending] = await queue.claim_due(now, limit=1)

    await queue.mark_sent(pending.id, now)

    assert await queue.claim_due(now + timedelta(hours=1), limit=10) == []
    record = await load(outbox_engine, pending.id)
    assert record.status == "sent"
    assert record.sent_at == now
    assert record.leased_until is None


async def test_failed_emails_are_retried_at_the_given_time_with_attempts_counted(
    outbox_engine: AsyncEngine,
) -> None:
    now = utc_now()
    await queue_emails(outbox_engine, 1, now)
    queue = SqlPendingEmailQueue(outbox_engine)
    [pending] = await queue.claim_due(now, limit=1)
    retry_at = now + timedelta(seconds=30)

    await queue.mark_failed(pending.id, retry_at, "421 try later")

    assert await queue.claim_due(retry_at - timedelta(seconds=1), limit=10) == []
    [retried] = await queue.claim_due(retry_at, limit=10)
    assert retried.id == pending.id
    assert retried.attempts == 1
    record = await load(outbox_engine, pending.id)
    assert record.last_error == "421 try later"


async def test_emails_given_up_on_are_dead_and_never_claimed(outbox_engine: AsyncEngine) -> None:
    now = utc_now()
    await queue_emails(outbox_engine, 1, now)
    queue = SqlPendingEmailQueue(outbox_engine)
    [pending] = await queue.claim_due(now, limit=1)

    await queue.mark_failed(pending.id, None, "550 no such user")

    assert await queue.claim_due(now + timedelta(days=1), limit=10) == []
    record = await load(outbox_engine, pending.id)
    assert record.status == "dead"
    assert record.attempts == 1


async def test_concurrent_claimers_never_get_the_same_email(outbox_engine: AsyncEngine) -> None:
    now = utc_now()
    await queue_emails(outbox_engine, 60, now)
    # Separate queues (and, on PostgreSQL, separate pooled connections) race for the rows.
    queues = [SqlPendingEmailQueue(outbox_engine) for _ in range(6)]

    async def drain(queue: SqlPendingEmailQueue) -> list[str]:
        taken: list[str] = []
        while batch := await queue.claim_due(now, limit=3):
            taken.extend(p.id for p in batch)
            await asyncio.sleep(0)
        return taken

    results = await asyncio.gather(*(drain(queue) for queue in queues))

    every_claim = [email_id for taken in results for email_id in taken]
    assert len(every_claim) == 60
    assert len(set(every_claim)) == 60
    # Each worker got a share: the claims really ran side by side.
    assert sum(1 for taken in results if taken) > 1
