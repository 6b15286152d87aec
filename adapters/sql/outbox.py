"""The email outbox: rows written inside the unit of work, leased and settled by the relay."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from adapters.sql.common.records import EmailOutboxRecord, OutboxStatus
from adapters.sql.engine import create_sessionmaker
from adapters.sql.errors import translate_unavailable
from application.common.ports import (
    Outbox,
    OutgoingEmail,
    PendingEmail,
    PendingEmailQueue,
)

LEASE = timedelta(seconds=60)


class SqlOutbox(Outbox):
    """Queues emails in the unit of work's session; they become visible on commit."""

    def __init__(self, session: AsyncSession, now: Callable[[], datetime]) -> None:
        self._session = session
        self._now = now
        self.added = 0

    @translate_unavailable
    async def add(self, email: OutgoingEmail) -> None:
        now = self._now()
        self._session.add(
            EmailOutboxRecord(
                id=uuid.uuid4().hex,
                recipient=email.to,
                subject=email.subject,
                body=email.text,
                status=OutboxStatus.PENDING.value,
                attempts=0,
                next_attempt_at=now,
                leased_until=None,
                last_error="",
                created_at=now,
                sent_at=None,
            )
        )
        await self._session.flush()
        self.added += 1


class SqlPendingEmailQueue(PendingEmailQueue):
    """Each call runs in its own short transaction, so leases are visible to other workers."""

    def __init__(self, bind: AsyncEngine | async_sessionmaker[AsyncSession]) -> None:
        self._sessions = create_sessionmaker(bind) if isinstance(bind, AsyncEngine) else bind

    @translate_unavailable
    async def claim_due(self, now: datetime, limit: int) -> list[PendingEmail]:
        claimable = (
            EmailOutboxRecord.status == OutboxStatus.PENDING.value,
            EmailOutboxRecord.next_attempt_at <= now,
            or_(EmailOutboxRecord.leased_until.is_(None), EmailOutboxRecord.leased_until <= now),
        )
        due = (
            select(EmailOutboxRecord.id)
            .where(*claimable)
            .order_by(EmailOutboxRecord.next_attempt_at, EmailOutboxRecord.id)
            .limit(limit)
        )
        async with self._sessions() as session, session.begin():
            if session.get_bind().dialect.name == "postgresql":
                # Rows another worker is leasing right now are skipped, not waited on. The ids
                # are fetched first: as an IN-subquery, PostgreSQL may rescan the locking
                # subquery and lease more than `limit` rows.
                ids = list(await session.scalars(due.with_for_update(skip_locked=True)))
                chosen = EmailOutboxRecord.id.in_(ids)
            else:
                # SQLite runs the whole UPDATE under its single write lock: one statement is
                # exclusive, and a claimer that raced another still gets the rows left over.
                chosen = EmailOutboxRecord.id.in_(due.scalar_subquery())
            claimed = await session.execute(
                update(EmailOutboxRecord)
                .where(chosen, *claimable)
                .values(leased_until=now + LEASE)
                .returning(
                    EmailOutboxRecord.id,
                    EmailOutboxRecord.recipient,
                    EmailOutboxRecord.subject,
                    EmailOutboxRecord.body,
                    EmailOutboxRecord.attempts,
                    EmailOutboxRecord.next_attempt_at,
                ),
                execution_options={"synchronize_session": False},
            )
            rows = sorted(claimed.all(), key=lambda row: (row.next_attempt_at, row.id))
        return [
            PendingEmail(
                id=row.id,
                email=OutgoingEmail(to=row.recipient, subject=row.subject, text=row.body),
                attempts=row.attempts,
            )
            for row in rows
        ]

    @translate_unavailable
    async def mark_sent(self, email_id: str, now: datetime) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(EmailOutboxRecord)
                .where(EmailOutboxRecord.id == email_id)
                .values(status=OutboxStatus.SENT.value, sent_at=now, leased_until=None),
                execution_options={"synchronize_session": False},
            )

    @translate_unavailable
    async def mark_failed(self, email_id: str, retry_at: datetime | None, error: str) -> None:
        values: dict[str, object] = {
            "attempts": EmailOutboxRecord.attempts + 1,
            "leased_until": None,
            "last_error": error,
        }
        if retry_at is None:
            values["status"] = OutboxStatus.DEAD.value
        else:
            values["next_attempt_at"] = retry_at
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(EmailOutboxRecord).where(EmailOutboxRecord.id == email_id).values(values),
                execution_options={"synchronize_session": False},
            )
