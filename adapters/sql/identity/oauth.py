"""SQL storage of provider links, sign-ins in flight, one-time login codes and WATI links.

Each table's columns are its domain object's fields, so rows map both ways by name."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from sqlalchemy import Table, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.billing.statements import insert_unless_present, rowcount
from adapters.sql.errors import translate_unavailable
from adapters.sql.identity.records import (
    LoginCodeRecord,
    OAuthAttemptRecord,
    OAuthLinkRecord,
    WatiLinkRecord,
)
from application.identity.ports import OAuthRepository
from domain.identity.oauth import LoginCode, OAuthAttempt, OAuthLink, WatiLink

_LINKS: Table = OAuthLinkRecord.__table__  # type: ignore[assignment]
_CODES: Table = LoginCodeRecord.__table__  # type: ignore[assignment]
_ATTEMPTS: Table = OAuthAttemptRecord.__table__  # type: ignore[assignment]
_WATI: Table = WatiLinkRecord.__table__  # type: ignore[assignment]


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
        return OAuthLink(**row._mapping)

    @translate_unavailable
    async def add_link(self, link: OAuthLink) -> bool:
        return await insert_unless_present(self._session, _LINKS, asdict(link))

    @translate_unavailable
    async def add_login_code(self, code: LoginCode) -> None:
        await insert_unless_present(self._session, _CODES, asdict(code))

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
        return LoginCode(**row._mapping)

    @translate_unavailable
    async def add_attempt(self, attempt: OAuthAttempt) -> None:
        now = attempt.created_at
        await self._session.execute(delete(_ATTEMPTS).where(_ATTEMPTS.c.expires_at <= now))
        await self._session.execute(delete(_CODES).where(_CODES.c.expires_at <= now))
        await self._session.execute(_ATTEMPTS.insert().values(**asdict(attempt)))

    @translate_unavailable
    async def take_attempt(self, state_hash: str, now: datetime) -> OAuthAttempt | None:
        row = (
            await self._session.execute(
                delete(_ATTEMPTS)
                .where(_ATTEMPTS.c.state_hash == state_hash, _ATTEMPTS.c.expires_at > now)
                .returning(*_ATTEMPTS.c)
            )
        ).first()
        if row is None:
            return None
        return OAuthAttempt(**row._mapping)

    @translate_unavailable
    async def save_wati_link(self, link: WatiLink) -> None:
        values = asdict(link)
        result = await self._session.execute(
            update(_WATI).where(_WATI.c.tenant_id == values.pop("tenant_id")).values(**values)
        )
        if rowcount(result) == 0:
            await insert_unless_present(self._session, _WATI, asdict(link))

    @translate_unavailable
    async def get_wati_link(self, tenant_id: str) -> WatiLink | None:
        row = (
            await self._session.execute(select(_WATI).where(_WATI.c.tenant_id == tenant_id))
        ).first()
        if row is None:
            return None
        return WatiLink(**row._mapping)
