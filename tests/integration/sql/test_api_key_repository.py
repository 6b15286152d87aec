"""API key repository and toucher: round-trips, tenant filtering, cascade and last use."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.tenancy.api_keys import SqlApiKeyToucher
from adapters.sql.uow import SqlUnitOfWorkFactory
from domain.tenancy.models import ApiKey, Tenant
from tests.integration.sql.factories import make_api_key, make_tenant, utc_now


async def add_keys(uow_factory: SqlUnitOfWorkFactory, tenants: list[Tenant], *keys: ApiKey) -> None:
    async with uow_factory() as uow:
        for tenant in tenants:
            await uow.tenants.add(tenant)
        for key in keys:
            await uow.api_keys.add(key)
        await uow.commit()


async def load(uow_factory: SqlUnitOfWorkFactory, key_id: str) -> ApiKey | None:
    async with uow_factory() as uow:
        return await uow.api_keys.get(key_id)


async def test_api_key_round_trips_with_scopes_and_expiry(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    tenant = make_tenant()
    now = utc_now()
    expiring = make_api_key(
        tenant.id, scopes=["chat:write", "usage:read"], expires_at=now + timedelta(days=30)
    )
    forever = make_api_key(tenant.id, scopes=[], last_used_at=now)
    await add_keys(uow_factory, [tenant], expiring, forever)

    assert await load(uow_factory, expiring.id) == expiring
    assert await load(uow_factory, forever.id) == forever
    assert await load(uow_factory, "no-such-key") is None


async def test_another_tenants_key_is_invisible_to_tenant_queries(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    ours, theirs = make_tenant(), make_tenant()
    our_key, their_key = make_api_key(ours.id), make_api_key(theirs.id)
    await add_keys(uow_factory, [ours, theirs], our_key, their_key)

    async with uow_factory() as uow:
        assert await uow.api_keys.get_for_tenant(ours.id, our_key.id) == our_key
        assert await uow.api_keys.get_for_tenant(ours.id, their_key.id) is None
        assert [key.id for key in await uow.api_keys.list_for_tenant(ours.id)] == [our_key.id]
        assert await uow.api_keys.delete(ours.id, their_key.id) is False
        await uow.commit()

    assert await load(uow_factory, their_key.id) == their_key


async def test_keys_are_listed_oldest_first(uow_factory: SqlUnitOfWorkFactory) -> None:
    tenant = make_tenant()
    now = utc_now()
    newer = make_api_key(tenant.id, created_at=now)
    older = make_api_key(tenant.id, created_at=now - timedelta(hours=1))
    await add_keys(uow_factory, [tenant], newer, older)

    async with uow_factory() as uow:
        listed = await uow.api_keys.list_for_tenant(tenant.id)

    assert [key.id for key in listed] == [older.id, newer.id]


async def test_delete_reports_whether_the_key_existed(uow_factory: SqlUnitOfWorkFactory) -> None:
    tenant = make_tenant()
    key = make_api_key(tenant.id)
    await add_keys(uow_factory, [tenant], key)

    async with uow_factory() as uow:
        assert await uow.api_keys.delete(tenant.id, key.id) is True
        assert await uow.api_keys.delete(tenant.id, key.id) is False
        await uow.commit()

    assert await load(uow_factory, key.id) is None


async def test_deleting_a_tenant_deletes_its_keys_only(uow_factory: SqlUnitOfWorkFactory) -> None:
    doomed, kept = make_tenant(), make_tenant()
    gone, stays = make_api_key(doomed.id), make_api_key(kept.id)
    await add_keys(uow_factory, [doomed, kept], gone, stays)

    async with uow_factory() as uow:
        await uow.tenants.delete(doomed.id)
        await uow.commit()

    assert await load(uow_factory, gone.id) is None
    assert await load(uow_factory, stays.id) == stays


async def test_touch_in_a_unit_of_work_sets_last_used_at_on_commit(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    tenant = make_tenant()
    key = make_api_key(tenant.id)
    used_at = utc_now()
    await add_keys(uow_factory, [tenant], key)

    async with uow_factory() as uow:
        await uow.api_keys.touch(key.id, used_at)
    untouched = await load(uow_factory, key.id)
    async with uow_factory() as uow:
        await uow.api_keys.touch(key.id, used_at)
        await uow.commit()
    touched = await load(uow_factory, key.id)

    assert untouched is not None
    assert untouched.last_used_at is None
    assert touched is not None
    assert touched.last_used_at == used_at


async def test_toucher_records_use_without_a_unit_of_work(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    tenant = make_tenant()
    key, other = make_api_key(tenant.id), make_api_key(tenant.id)
    used_at = utc_now()
    await add_keys(uow_factory, [tenant], key, other)

    await SqlApiKeyToucher(engine).touch(key.id, used_at)

    touched, untouched = await load(uow_factory, key.id), await load(uow_factory, other.id)
    assert touched is not None
    assert touched.last_used_at == used_at
    assert untouched is not None
    assert untouched.last_used_at is None


async def test_a_late_touch_never_moves_last_used_at_back(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    tenant = make_tenant()
    key = make_api_key(tenant.id)
    later = utc_now()
    await add_keys(uow_factory, [tenant], key)
    toucher = SqlApiKeyToucher(engine)

    await toucher.touch(key.id, later)
    await toucher.touch(key.id, later - timedelta(minutes=5))

    loaded = await load(uow_factory, key.id)
    assert loaded is not None
    assert loaded.last_used_at == later


async def test_touching_a_missing_key_does_nothing(engine: AsyncEngine) -> None:
    await SqlApiKeyToucher(engine).touch("no-such-key", utc_now())
