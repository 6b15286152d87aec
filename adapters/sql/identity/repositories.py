"""SQL implementations of the identity repositories, bound to one unit-of-work session."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.billing.statements import rowcount
from adapters.sql.errors import translate_unavailable
from adapters.sql.identity.records import (
    ChallengeRecord,
    SessionRecord,
    UserRecord,
    challenge_to_domain,
    challenge_to_record,
    session_to_domain,
    session_to_record,
    user_to_domain,
    user_to_record,
)
from application.identity.ports import ChallengeRepository, SessionRepository, UserRepository
from domain.errors import AlreadyExists, NotFound
from domain.identity.models import Challenge, Session, User

EMAIL_TAKEN = "email already registered"
# How PostgreSQL ("uq_users_email") and SQLite ("users.email") name the violated constraint.
_EMAIL_CONSTRAINT_MARKERS = ("uq_users_email", "users.email")


class SqlUserRepository(UserRepository):
    def __init__(self, session: AsyncSession) -> None:
        # Ids written in this unit of work, announced after commit so read caches drop them.
        self.changed: set[str] = set()
        self._session = session

    @translate_unavailable
    async def get(self, user_id: str) -> User | None:
        record = await self._session.get(UserRecord, user_id)
        return user_to_domain(record) if record is not None else None

    @translate_unavailable
    async def get_by_email(self, email: str) -> User | None:
        record = await self._session.scalar(select(UserRecord).where(UserRecord.email == email))
        return user_to_domain(record) if record is not None else None

    @translate_unavailable
    async def add(self, user: User) -> None:
        self._session.add(user_to_record(user))
        await self._flush_unique_email()

    @translate_unavailable
    async def update(self, user: User) -> None:
        record = await self._session.get(UserRecord, user.id)
        if record is None:
            raise NotFound("user not found")
        user_to_record(user, record)
        self.changed.add(user.id)
        await self._flush_unique_email()

    @translate_unavailable
    async def delete(self, user_id: str) -> None:
        # Sessions and memberships go with the user through ON DELETE CASCADE.
        self.changed.add(user_id)
        await self._session.execute(delete(UserRecord).where(UserRecord.id == user_id))

    async def _flush_unique_email(self) -> None:
        # Flush now so a taken email surfaces here (the unique constraint decides, not a pre-check).
        try:
            await self._session.flush()
        except IntegrityError as error:
            if any(marker in str(error.orig) for marker in _EMAIL_CONSTRAINT_MARKERS):
                raise AlreadyExists(EMAIL_TAKEN) from error
            raise


class SqlSessionRepository(SessionRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    @translate_unavailable
    async def get(self, session_id: str) -> Session | None:
        record = await self._session.get(SessionRecord, session_id)
        return session_to_domain(record) if record is not None else None

    @translate_unavailable
    async def add(self, session: Session) -> None:
        self._session.add(session_to_record(session))
        await self._session.flush()

    @translate_unavailable
    async def update(self, session: Session) -> None:
        record = await self._session.get(SessionRecord, session.id)
        if record is None:
            raise NotFound("session not found")
        session_to_record(session, record)
        await self._session.flush()

    @translate_unavailable
    async def revoke_all_for_user(
        self, user_id: str, now: datetime, *, except_id: str | None = None
    ) -> list[str]:
        statement = (
            update(SessionRecord)
            .where(SessionRecord.user_id == user_id, SessionRecord.revoked_at.is_(None))
            .values(revoked_at=now)
            .returning(SessionRecord.id)
        )
        if except_id is not None:
            statement = statement.where(SessionRecord.id != except_id)
        revoked = await self._session.scalars(statement)
        return sorted(revoked)


class SqlChallengeRepository(ChallengeRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    @translate_unavailable
    async def get_by_token_hash(self, token_hash: str) -> Challenge | None:
        record = await self._session.scalar(
            select(ChallengeRecord).where(ChallengeRecord.token_hash == token_hash)
        )
        return challenge_to_domain(record) if record is not None else None

    @translate_unavailable
    async def add(self, challenge: Challenge) -> None:
        self._session.add(challenge_to_record(challenge))
        await self._session.flush()

    @translate_unavailable
    async def update(self, challenge: Challenge) -> None:
        record = await self._session.get(ChallengeRecord, challenge.id)
        if record is None:
            raise NotFound("challenge not found")
        challenge_to_record(challenge, record)
        await self._session.flush()

    @translate_unavailable
    async def count_attempt(self, challenge_id: str, now: datetime, max_attempts: int) -> bool:
        # The row stays locked to the commit (PostgreSQL), or the write lock is held
        # (SQLite): the next try re-evaluates the condition on what this one wrote.
        result = await self._session.execute(
            update(ChallengeRecord)
            .where(
                ChallengeRecord.id == challenge_id,
                ChallengeRecord.consumed_at.is_(None),
                ChallengeRecord.expires_at > now,
                ChallengeRecord.attempts < max_attempts,
            )
            .values(attempts=ChallengeRecord.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        return rowcount(result) == 1

    @translate_unavailable
    async def consume(self, challenge_id: str, now: datetime) -> bool:
        result = await self._session.execute(
            update(ChallengeRecord)
            .where(
                ChallengeRecord.id == challenge_id,
                ChallengeRecord.consumed_at.is_(None),
                ChallengeRecord.expires_at > now,
            )
            .values(consumed_at=now)
            .execution_options(synchronize_session=False)
        )
        return rowcount(result) == 1
