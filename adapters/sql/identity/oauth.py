"""SQL storage of provider links, sign-ins in flight, one-time login codes and WATI links."""

from __future__ import annotations

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

    @translate_unavailable
    async def add_attempt(self, attempt: OAuthAttempt) -> None:
        now = attempt.created_at
        await self._session.execute(delete(_ATTEMPTS).where(_ATTEMPTS.c.expires_at <= now))
        await self._session.execute(delete(_CODES).where(_CODES.c.expires_at <= now))
        await self._session.execute(
            _ATTEMPTS.insert().values(
                state_hash=attempt.state_hash,
                provider=attempt.provider,
                browser_hash=attempt.browser_hash,
                nonce=attempt.nonce,
                code_verifier=attempt.code_verifier,
                expires_at=attempt.expires_at,
                created_at=attempt.created_at,
            )
        )

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
        return OAuthAttempt(
            row.state_hash,
            row.provider,
            row.browser_hash,
            row.nonce,
            row.code_verifier,
            row.expires_at,
            row.created_at,
        )

    @translate_unavailable
    async def save_wati_link(self, link: WatiLink) -> None:
        values = {
            "user_id": link.user_id,
            "wati_email": link.wati_email,
            "wati_tenant": link.wati_tenant,
            "sealed_token": link.sealed_token,
            "updated_at": link.updated_at,
        }
        result = await self._session.execute(
            update(_WATI).where(_WATI.c.tenant_id == link.tenant_id).values(**values)
        )
        if rowcount(result) == 0:
            await insert_unless_present(
                self._session, _WATI, {"tenant_id": link.tenant_id, **values}
            )

    @translate_unavailable
    async def get_wati_link(self, tenant_id: str) -> WatiLink | None:
        row = (
            await self._session.execute(select(_WATI).where(_WATI.c.tenant_id == tenant_id))
        ).first()
        if row is None:
            return None
        return WatiLink(
            row.tenant_id,
            row.user_id,
            row.wati_email,
            row.wati_tenant,
            row.sealed_token,
            row.updated_at,
        )
