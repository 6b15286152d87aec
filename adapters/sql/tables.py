"""Every record module imported in one place, so `metadata` holds the whole schema."""

from __future__ import annotations

from adapters.sql.agents.records import (
    AgentConfigVersionRecord,
    AgentRecord,
    IntentionRecord,
    LeadRecord,
)
from adapters.sql.base import Base, metadata
from adapters.sql.billing.catalog_records import SubscriptionPlanRecord, SubscriptionRecord
from adapters.sql.billing.ledger_records import (
    CreditGrantRecord,
    CreditReservationRecord,
)
from adapters.sql.billing.payment_records import LocalCheckoutRecord, PaymentEventRecord
from adapters.sql.chat.records import ConversationRecord, MessageRecord
from adapters.sql.common.records import EmailOutboxRecord
from adapters.sql.identity.records import (
    ChallengeRecord,
    LoginCodeRecord,
    OAuthLinkRecord,
    SessionRecord,
    UserRecord,
)
from adapters.sql.tenancy.records import (
    ApiKeyRecord,
    InvitationRecord,
    MembershipRecord,
    TenantRecord,
)

__all__ = [
    "AgentConfigVersionRecord",
    "AgentRecord",
    "ApiKeyRecord",
    "Base",
    "ChallengeRecord",
    "ConversationRecord",
    "CreditGrantRecord",
    "CreditReservationRecord",
    "EmailOutboxRecord",
    "IntentionRecord",
    "InvitationRecord",
    "LeadRecord",
    "LocalCheckoutRecord",
    "LoginCodeRecord",
    "MembershipRecord",
    "MessageRecord",
    "OAuthLinkRecord",
    "PaymentEventRecord",
    "SessionRecord",
    "SubscriptionPlanRecord",
    "SubscriptionRecord",
    "TenantRecord",
    "UserRecord",
    "metadata",
]
