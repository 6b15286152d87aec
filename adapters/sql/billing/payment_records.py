"""ORM records of payment provider events and local checkout pages, with domain mappers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Row, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from adapters.sql.base import Base
from domain.billing.payments import (
    CheckoutKind,
    CheckoutLine,
    CheckoutStatus,
    EventStatus,
    LocalCheckout,
    PaymentEvent,
)

_JSON = JSON().with_variant(JSONB(), "postgresql")
_EVENT_STATUSES = ", ".join(f"'{status.value}'" for status in EventStatus)


class PaymentEventRecord(Base):
    __tablename__ = "payment_events"
    __table_args__ = (
        CheckConstraint(f"status IN ({_EVENT_STATUSES})", name="status"),
        # The worker's re-drive looks only at events not applied yet.
        Index(
            "ix_payment_events_received_next_attempt_at",
            "next_attempt_at",
            postgresql_where=text("status = 'received'"),
            sqlite_where=text("status = 'received'"),
        ),
    )

    # "<provider>:<the provider's event id>": the primary key is "each event once".
    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    type: Mapped[str] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]] = mapped_column(_JSON)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int]
    last_error: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    applied_at: Mapped[datetime | None]


class LocalCheckoutRecord(Base):
    __tablename__ = "local_checkouts"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    # [{"offer_id", "name", "quantity", "amount", "credits"}, …], fixed when the page opens.
    lines: Mapped[list[dict[str, Any]]] = mapped_column(_JSON)
    currency: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


def event_to_row(event: PaymentEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "provider": event.provider,
        "type": event.type,
        "payload": event.payload,
        "status": event.status.value,
        "attempts": event.attempts,
        "last_error": event.last_error,
        "received_at": event.received_at,
        "next_attempt_at": event.next_attempt_at,
        "applied_at": event.applied_at,
    }


def event_to_domain(row: Row[Any]) -> PaymentEvent:
    return PaymentEvent(
        id=row.id,
        provider=row.provider,
        type=row.type,
        payload=dict(row.payload),
        status=EventStatus(row.status),
        attempts=row.attempts,
        last_error=row.last_error,
        received_at=row.received_at,
        next_attempt_at=row.next_attempt_at,
        applied_at=row.applied_at,
    )


def checkout_to_row(checkout: LocalCheckout) -> dict[str, Any]:
    return {
        "id": checkout.id,
        "tenant_id": checkout.tenant_id,
        "kind": checkout.kind.value,
        "lines": [
            {
                "offer_id": line.offer_id,
                "name": line.name,
                "quantity": line.quantity,
                "amount": line.amount,
                "credits": line.credits,
            }
            for line in checkout.lines
        ],
        "currency": checkout.currency,
        "status": checkout.status.value,
        "created_at": checkout.created_at,
        "expires_at": checkout.expires_at,
    }


def checkout_to_domain(row: Row[Any]) -> LocalCheckout:
    return LocalCheckout(
        id=row.id,
        tenant_id=row.tenant_id,
        kind=CheckoutKind(row.kind),
        lines=[
            CheckoutLine(
                offer_id=str(line["offer_id"]),
                name=str(line["name"]),
                quantity=int(line["quantity"]),
                amount=int(line["amount"]),
                credits=int(line["credits"]),
            )
            for line in row.lines
        ],
        currency=row.currency,
        status=CheckoutStatus(row.status),
        created_at=row.created_at,
        expires_at=row.expires_at,
    )
