"""DeliverPendingEmails: sends due emails, backs off on failure and finally gives up."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from application.common.email_delivery import DeliverPendingEmails
from application.common.ports import (
    Clock,
    EmailSender,
    OutgoingEmail,
    PendingEmail,
    PendingEmailQueue,
)

NOW = datetime(2030, 1, 1, tzinfo=UTC)


class FixedClock(Clock):
    def now(self) -> datetime:
        return NOW


@dataclass
class Failure:
    retry_at: datetime | None
    error: str


@dataclass
class FakeQueue(PendingEmailQueue):
    pending: list[PendingEmail] = field(default_factory=list)
    claims: list[tuple[datetime, int]] = field(default_factory=list)
    sent: dict[str, datetime] = field(default_factory=dict)
    failures: dict[str, Failure] = field(default_factory=dict)

    async def claim_due(self, now: datetime, limit: int) -> list[PendingEmail]:
        self.claims.append((now, limit))
        batch, self.pending = self.pending[:limit], self.pending[limit:]
        return batch

    async def mark_sent(self, email_id: str, now: datetime) -> None:
        self.sent[email_id] = now

    async def mark_failed(self, email_id: str, retry_at: datetime | None, error: str) -> None:
        self.failures[email_id] = Failure(retry_at, error)


class RecordingSender(EmailSender):
    def __init__(self, fail_for: Collection[str] = ()) -> None:
        self.fail_for = fail_for
        self.delivered: list[OutgoingEmail] = []

    async def send(self, email: OutgoingEmail) -> None:
        if email.to in self.fail_for:
            raise ConnectionRefusedError(
                "could not reach smtp " + "x" * 300 + "\nsecond line with more detail"
            )
        self.delivered.append(email)


def make_pending(attempts: int = 0, to: str = "") -> PendingEmail:
    email_id = f"email-{attempts}-{to or 'ok'}"
    email = OutgoingEmail(
        to=to or "ok@example.com", subject="Your code", text="Your code is 123456"
    )
    return PendingEmail(id=email_id, email=email, attempts=attempts)


async def test_due_emails_are_sent_and_marked_sent() -> None:
    queue = FakeQueue(pending=[make_pending(), make_pending(to="b@example.com")])
    sender = RecordingSender()
    sent = await DeliverPendingEmails(queue, sender, FixedClock())()
    assert sent == 2
    assert [e.to for e in sender.delivered] == ["ok@example.com", "b@example.com"]
    assert queue.sent == {"email-0-ok": NOW, "email-0-b@example.com": NOW}
    assert queue.failures == {}


async def test_claims_at_most_one_batch_due_now() -> None:
    queue = FakeQueue(pending=[make_pending(to=f"{i}@example.com") for i in range(5)])
    sent = await DeliverPendingEmails(queue, RecordingSender(), FixedClock(), batch_size=3)()
    assert sent == 3
    assert queue.claims == [(NOW, 3)]
    assert len(queue.pending) == 2


async def test_first_failure_is_retried_after_five_seconds() -> None:
    queue = FakeQueue(pending=[make_pending(attempts=0, to="down@example.com")])
    sent = await DeliverPendingEmails(queue, RecordingSender({"down@example.com"}), FixedClock())()
    assert sent == 0
    failure = queue.failures["email-0-down@example.com"]
    assert failure.retry_at == NOW + timedelta(seconds=5)


async def test_backoff_doubles_with_each_failed_attempt() -> None:
    delays = []
    for attempts in range(5):
        queue = FakeQueue(pending=[make_pending(attempts=attempts, to="down@example.com")])
        deliver = DeliverPendingEmails(
            queue, RecordingSender({"down@example.com"}), FixedClock(), max_attempts=100
        )
        await deliver()
        retry_at = queue.failures[f"email-{attempts}-down@example.com"].retry_at
        assert retry_at is not None
        delays.append((retry_at - NOW).total_seconds())
    assert delays == [5, 10, 20, 40, 80]


async def test_backoff_is_capped_at_one_hour() -> None:
    queue = FakeQueue(pending=[make_pending(attempts=20, to="down@example.com")])
    deliver = DeliverPendingEmails(
        queue, RecordingSender({"down@example.com"}), FixedClock(), max_attempts=100
    )
    await deliver()
    assert queue.failures["email-20-down@example.com"].retry_at == NOW + timedelta(hours=1)


async def test_gives_up_after_max_attempts() -> None:
    sender = RecordingSender({"down@example.com"})
    almost = FakeQueue(pending=[make_pending(attempts=6, to="down@example.com")])
    await DeliverPendingEmails(almost, sender, FixedClock(), max_attempts=8)()
    assert almost.failures["email-6-down@example.com"].retry_at is not None

    last = FakeQueue(pending=[make_pending(attempts=7, to="down@example.com")])
    await DeliverPendingEmails(last, sender, FixedClock(), max_attempts=8)()
    assert last.failures["email-7-down@example.com"].retry_at is None


async def test_stored_error_is_the_exception_class_and_a_short_first_line() -> None:
    queue = FakeQueue(pending=[make_pending(to="down@example.com")])
    await DeliverPendingEmails(queue, RecordingSender({"down@example.com"}), FixedClock())()
    error = queue.failures["email-0-down@example.com"].error
    assert error.startswith("ConnectionRefusedError: could not reach smtp")
    assert "second line" not in error
    assert len(error) <= 200


async def test_one_failure_does_not_stop_the_rest_of_the_batch() -> None:
    queue = FakeQueue(
        pending=[
            make_pending(to="a@example.com"),
            make_pending(to="down@example.com"),
            make_pending(to="c@example.com"),
        ]
    )
    sender = RecordingSender({"down@example.com"})
    assert await DeliverPendingEmails(queue, sender, FixedClock())() == 2
    assert set(queue.sent) == {"email-0-a@example.com", "email-0-c@example.com"}
    assert set(queue.failures) == {"email-0-down@example.com"}


async def test_an_empty_outbox_sends_nothing() -> None:
    queue = FakeQueue()
    assert await DeliverPendingEmails(queue, RecordingSender(), FixedClock())() == 0
