"""SQL storage of payment events (each once, by id) and local checkout pages."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Table, case, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.billing.payment_records import (
    LocalCheckoutRecord,
    PaymentEventRecord,
    checkout_to_domain,
    checkout_to_row,
    event_to_domain,
    event_to_row,
)
from adapters.sql.billing.statements import insert_unless_present, rowcount
from adapters.sql.errors import translate_unavailable
from application.billing.payment_ports import PaymentRepository
from domain.billing.payments import CheckoutStatus, EventStatus, LocalCheckout, PaymentEvent

_EVENTS: Table = PaymentEventRecord.__table__  # type: ignore[assignment]
_CHECKOUTS: Table = LocalCheckoutRecord.__table__  # type: ignore[assignment]
_RECEIVED = EventStatus.RECEIVED.value
_MAX_ERROR = 500


class SqlPaymentRepository(PaymentRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    @translate_unavailable
    async def add_event(self, event: PaymentEvent) -> bool:
        return await insert_unless_present(self._session, _EVENTS, event_to_row(event))

    @translate_unavailable
    async def get_event(self, event_id: str) -> PaymentEvent | None:
        row = (await self._session.execute(select(_EVENTS).where(_EVENTS.c.id == event_id))).first()
        return event_to_domain(row) if row is not None else None

    @translate_unavailable
    async def mark_applied(self, event_id: str, now: datetime) -> bool:
        result = await self._session.execute(
            update(_EVENTS)
            .where(_EVENTS.c.id == event_id, _EVENTS.c.status == _RECEIVED)
            .values(status=EventStatus.APPLIED.value, applied_at=now)
        )
        return rowcount(result) == 1

    @translate_unavailable
    async def record_failure(
        self, event_id: str, error: str, retry_at: datetime, park_after: int
    ) -> None:
        await self._session.execute(
            update(_EVENTS)
            .where(_EVENTS.c.id == event_id, _EVENTS.c.status == _RECEIVED)
            .values(
                attempts=_EVENTS.c.attempts + 1,
                last_error=error[:_MAX_ERROR],
                next_attempt_at=retry_at,
                status=case(
                    (_EVENTS.c.attempts + 1 >= park_after, EventStatus.PARKED.value),
                    else_=_RECEIVED,
                ),
            )
        )

    @translate_unavailable
    async def events_due(self, now: datetime, limit: int) -> list[PaymentEvent]:
        rows = await self._session.execute(
            select(_EVENTS)
            .where(_EVENTS.c.status == _RECEIVED, _EVENTS.c.next_attempt_at <= now)
            .order_by(_EVENTS.c.next_attempt_at, _EVENTS.c.id)
            .limit(limit)
        )
        return [event_to_domain(row) for row in rows]

    @translate_unavailable
    async def parked_events(self, limit: int) -> list[PaymentEvent]:
        rows = await self._session.execute(
            select(_EVENTS)
            .where(_EVENTS.c.status == EventStatus.PARKED.value)
            .order_by(_EVENTS.c.received_at, _EVENTS.c.id)
            .limit(limit)
        )
        return [event_to_domain(row) for row in rows]

    @translate_unavailable
    async def add_checkout(self, checkout: LocalCheckout) -> bool:
        return await insert_unless_present(self._session, _CHECKOUTS, checkout_to_row(checkout))

    @translate_unavailable
    async def get_checkout(self, checkout_id: str) -> LocalCheckout | None:
        row = (
            await self._session.execute(select(_CHECKOUTS).where(_CHECKOUTS.c.id == checkout_id))
        ).first()
        return checkout_to_domain(row) if row is not None else None

    @translate_unavailable
    async def close_checkout(self, checkout: LocalCheckout, now: datetime) -> bool:
        result = await self._session.execute(
            update(_CHECKOUTS)
            .where(
                _CHECKOUTS.c.id == checkout.id,
                _CHECKOUTS.c.status == CheckoutStatus.OPEN.value,
                _CHECKOUTS.c.expires_at > now,
            )
            .values(status=checkout.status.value)
        )
        return rowcount(result) == 1
