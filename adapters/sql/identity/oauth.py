"""SQL storage of provider links and one-time login codes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.billing.statements import insert_unless_present, rowcount
from adapters.sql.errors import translate_unavailable
from adapters.sql.identity.records import LoginCodeRecord, OAuthLinkRecord
from application.identity.ports import OAuthRepository
from domain.identity.oauth import LoginCode, OAuthLink

_LINKS: Table = OAuthLinkRecord.__table__  # type: ignore[assignment]
_CODES: Table = LoginCodeRecord.__table__  # type: ignore[assignment]


class SqlOAuthRepository(OAuthRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    @translate_unavailable
    async def get_link(self, provider: str, subject: str) -> OAuthLink | None:
        row = (
            await self._session.execute(
                select(_LINKS).where(_LINKS.c.provider == provider, _LINKS.c.subject == subject)
            )
        ).first()
        if row is None:
            return None
        return OAuthLink(row.provider, row.subject, row.user_id, row.email, row.created_at)

    @translate_unavailable
    async def add_link(self, link: OAuthLink) -> bool:
        values = {
            "provider": link.provider,
            "subject": link.subject,
            "user_id": link.user_id,
            "email": link.email,
            "created_at": link.created_at,
        }
        return await insert_unless_present(self._session, _LINKS, values)

    @translate_unavailable
    async def add_login_code(self, code: LoginCode) -> None:
        values = {
            "code_hash": code.code_hash,
            "user_id": code.user_id,
            "is_new_user": code.is_new_user,
            "expires_at": code.expires_at,
            "created_at": code.created_at,
            "consumed_at": None,
        }
        await insert_unless_present(self._session, _CODES, values)

    @translate_unavailable
    async def consume_login_code(self, code_hash: str, now: datetime) -> LoginCode | None:
        result = await self._session.execute(
            update(_CODES)
            .where(
                _CODES.c.code_hash == code_hash,
                _CODES.c.consumed_at.is_(None),
                _CODES.c.expires_at > now,
            )
            .values(consumed_at=now)
        )
        if rowcount(result) != 1:
            return None
        row = (
            await self._session.execute(select(_CODES).where(_CODES.c.code_hash == code_hash))
        ).one()
        return LoginCode(
            row.code_hash, row.user_id, row.is_new_user, row.expires_at, row.created_at, now
        )
