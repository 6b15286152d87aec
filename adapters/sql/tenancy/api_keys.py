"""SQL API key repository, and a toucher that records key use outside any unit of work."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Update, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from adapters.sql.errors import translate_unavailable
from adapters.sql.tenancy.records import ApiKeyRecord, api_key_to_domain, api_key_to_record
from application.tenancy.ports import ApiKeyRepository
from domain.tenancy.models import ApiKey


def touch_statement(key_id: str, used_at: datetime) -> Update:
    """One UPDATE setting `last_used_at`; never moves it back when replicas race."""
    return (
        update(ApiKeyRecord)
        .where(
            ApiKeyRecord.id == key_id,
            or_(ApiKeyRecord.last_used_at.is_(None), ApiKeyRecord.last_used_at < used_at),
        )
        .values(last_used_at=used_at)
    )


class SqlApiKeyRepository(ApiKeyRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    @translate_unavailable
    async def add(self, key: ApiKey) -> None:
        self._session.add(api_key_to_record(key))
        await self._session.flush()

    @translate_unavailable
    async def get(self, key_id: str) -> ApiKey | None:
        # The one lookup across tenants: authentication learns the tenant from the key itself.
        record = await self._session.get(ApiKeyRecord, key_id)
        return api_key_to_domain(record) if record is not None else None

    @translate_unavailable
    async def get_for_tenant(self, tenant_id: str, key_id: str) -> ApiKey | None:
        record = await self._session.scalar(
            select(ApiKeyRecord).where(
                ApiKeyRecord.tenant_id == tenant_id, ApiKeyRecord.id == key_id
            )
        )
        return api_key_to_domain(record) if record is not None else None

    @translate_unavailable
    async def list_for_tenant(self, tenant_id: str) -> list[ApiKey]:
        records = await self._session.scalars(
            select(ApiKeyRecord)
            .where(ApiKeyRecord.tenant_id == tenant_id)
            .order_by(ApiKeyRecord.created_at, ApiKeyRecord.id)
        )
        return [api_key_to_domain(record) for record in records]

    @translate_unavailable
    async def delete(self, tenant_id: str, key_id: str) -> bool:
        deleted = await self._session.scalars(
            delete(ApiKeyRecord)
            .where(ApiKeyRecord.tenant_id == tenant_id, ApiKeyRecord.id == key_id)
            .returning(ApiKeyRecord.id)
        )
        return deleted.first() is not None

    @translate_unavailable
    async def touch(self, key_id: str, used_at: datetime) -> None:
        await self._session.execute(touch_statement(key_id, used_at))


class SqlApiKeyToucher:
    """Records key use on its own autocommit connection, so a request needs no unit of work."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @translate_unavailable
    async def touch(self, key_id: str, used_at: datetime) -> None:
        async with self._engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(touch_statement(key_id, used_at))
