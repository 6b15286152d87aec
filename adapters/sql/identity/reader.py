"""The account read model: one indexed row per call, outside any unit of work."""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.errors import translate_unavailable
from adapters.sql.identity.records import SessionRecord, UserRecord
from application.identity.ports import AccountReader, AccountView, SessionDirectory

_users = UserRecord.__table__.c
_ACCOUNT = select(
    _users.id,
    _users.email,
    _users.name,
    _users.avatar_url,
    _users.timezone,
    _users.is_initialized,
    _users.email_verified,
    _users.current_tenant_id,
    _users.auth_providers,
    _users.created_at,
    _users.updated_at,
).where(_users.id == bindparam("user_id"))


_sessions = SessionRecord.__table__.c
_OPEN_SESSION = select(_sessions.id).where(
    _sessions.id == bindparam("session_id"), _sessions.revoked_at.is_(None)
)


class SqlAccountReader(AccountReader):
    """Reads on an autocommit connection: no BEGIN/ROLLBACK round trips for a single SELECT."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")

    @translate_unavailable
    async def account(self, user_id: str) -> AccountView | None:
        async with self._engine.connect() as connection:
            row = (await connection.execute(_ACCOUNT, {"user_id": user_id})).first()
        if row is None:
            return None
        # The selected columns are exactly AccountView's fields.
        fields = dict(row._mapping)
        fields["auth_providers"] = list(fields["auth_providers"])
        return AccountView(**fields)


class SqlSessionDirectory(SessionDirectory):
    """One primary-key lookup on an autocommit connection, like the account read."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")

    @translate_unavailable
    async def is_open(self, session_id: str) -> bool:
        async with self._engine.connect() as connection:
            row = (await connection.execute(_OPEN_SESSION, {"session_id": session_id})).first()
        return row is not None
