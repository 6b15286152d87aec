"""Every record module imported in one place, so `metadata` holds the whole schema."""

from __future__ import annotations

from adapters.sql.base import Base, metadata
from adapters.sql.billing.catalog_records import SubscriptionPlanRecord, SubscriptionRecord
from adapters.sql.billing.ledger_records import (
    CreditGrantRecord,
    CreditReservationRecord,
)
from adapters.sql.common.records import EmailOutboxRecord
from adapters.sql.identity.records import ChallengeRecord, SessionRecord, UserRecord
from adapters.sql.tenancy.records import (
    ApiKeyRecord,
    InvitationRecord,
    MembershipRecord,
    TenantRecord,
)

__all__ = [
    "ApiKeyRecord",
    "Base",
    "ChallengeRecord",
    "CreditGrantRecord",
    "CreditReservationRecord",
    "EmailOutboxRecord",
    "InvitationRecord",
    "MembershipRecord",
    "SessionRecord",
    "SubscriptionPlanRecord",
    "SubscriptionRecord",
    "TenantRecord",
    "UserRecord",
    "metadata",
]
