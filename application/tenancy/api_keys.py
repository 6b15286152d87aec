"""Tenant API keys: create, list and delete them, and authenticate requests that carry one."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from datetime import UTC, datetime, timedelta

from application.common.caller import Caller
from application.common.ports import (
    Clock,
    IdGenerator,
    SecretGenerator,
    SecretHasher,
    UnitOfWorkFactory,
)
from application.tenancy.access import authorize, require_user
from application.tenancy.api_key_commands import (
    ApiKeyView,
    CreateApiKeyCommand,
    CreatedApiKey,
    DeleteApiKeyCommand,
    ListApiKeysCommand,
)
from application.tenancy.ports import ApiKeyCache, ApiKeyCredential
from domain.errors import InvalidArgument, NotFound, Unauthenticated
from domain.tenancy.models import API_KEY_PREFIX, ApiKey
from domain.tenancy.policy import Action, Scope, parse_scopes

logger = logging.getLogger("astra")

NAME_MAX_LENGTH = 100
TOUCH_INTERVAL = timedelta(minutes=1)
BAD_KEY = "invalid API key"


def parse_expiry(raw: str, now: datetime, field: str = "expires_at") -> datetime | None:
    """An RFC 3339 time with a zone, in the future; empty means "never"."""
    text = raw.strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidArgument(
            field, "must be an RFC 3339 date-time, e.g. 2026-01-01T10:00:00Z"
        ) from None
    if moment.tzinfo is None:
        raise InvalidArgument(field, "must carry a time zone (e.g. a trailing Z)")
    moment = moment.astimezone(UTC)
    if moment <= now:
        raise InvalidArgument(field, "must be in the future")
    return moment


def split_credential(credential: str) -> tuple[str, str] | None:
    """`sk_live_<id>_<secret>` → (id, secret). Ids never contain `_`; secrets may."""
    if not credential.startswith(API_KEY_PREFIX):
        return None
    key_id, _, secret = credential[len(API_KEY_PREFIX) :].partition("_")
    if not key_id or not secret:
        return None
    return key_id, secret


class CreateApiKey:
    """Give the caller's tenant a new API key.

    - Signed-in owners and admins only (`PermissionDenied` for normal members, API keys and
      internal callers).
    - `name` is 1 to 100 characters after trimming; `scopes` name at least one known scope;
      `expires_at` is empty (never) or an RFC 3339 time in the future.
    - Only a hash of the secret is stored; the full credential is returned this once.
    """

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        ids: IdGenerator,
        secrets: SecretGenerator,
        secret_hasher: SecretHasher,
        clock: Clock,
    ) -> None:
        self._uow = uow_factory
        self._ids = ids
        self._secrets = secrets
        self._hasher = secret_hasher
        self._clock = clock

    async def __call__(self, command: CreateApiKeyCommand) -> CreatedApiKey:
        user_id = require_user(command.caller)
        now = self._clock.now()
        name = command.name.strip()
        if not 1 <= len(name) <= NAME_MAX_LENGTH:
            raise InvalidArgument("name", f"must be 1 to {NAME_MAX_LENGTH} characters")
        scopes = parse_scopes(command.scopes)
        expires_at = parse_expiry(command.expires_at, now)
        key_id = self._ids.new_id()
        if "_" in key_id:
            # The credential is split at the first `_` after the prefix.
            raise RuntimeError("API key ids must not contain '_'")
        secret = self._secrets.token()
        async with self._uow() as uow:
            access = await authorize(uow, command.caller, Action.MANAGE_API_KEYS)
            key = ApiKey(
                id=key_id,
                tenant_id=access.tenant_id,
                name=name,
                scopes=sorted(scope.value for scope in scopes),
                secret_hash=self._hasher.hash(secret),
                created_by=user_id,
                created_at=now,
                expires_at=expires_at,
            )
            await uow.api_keys.add(key)
            await uow.commit()
        return CreatedApiKey(ApiKeyView.of(key), f"{key.prefix}{secret}")


class ListApiKeys:
    """The caller's tenant's keys, oldest first (owners and admins, signed in)."""

    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow = uow_factory

    async def __call__(self, command: ListApiKeysCommand) -> list[ApiKeyView]:
        require_user(command.caller)
        async with self._uow() as uow:
            access = await authorize(uow, command.caller, Action.MANAGE_API_KEYS)
            keys = await uow.api_keys.list_for_tenant(access.tenant_id)
        return [ApiKeyView.of(key) for key in keys]


class DeleteApiKey:
    """Delete one of the caller's tenant's keys (owners and admins, signed in).

    - A key of another tenant, or none at all, is `NotFound`.
    - This process forgets the key at once; other replicas within their cache's second.
    """

    def __init__(self, uow_factory: UnitOfWorkFactory, cache: ApiKeyCache) -> None:
        self._uow = uow_factory
        self._cache = cache

    async def __call__(self, command: DeleteApiKeyCommand) -> None:
        require_user(command.caller)
        async with self._uow() as uow:
            access = await authorize(uow, command.caller, Action.MANAGE_API_KEYS)
            deleted = await uow.api_keys.delete(access.tenant_id, command.key_id)
            if not deleted:
                raise NotFound("API key not found")
            await uow.commit()
        self._cache.drop(command.key_id)


class AuthenticateApiKey:
    """Turn an `sk_live_<id>_<secret>` credential into a `Caller`; runs on every request.

    - Malformed, unknown, wrong-secret and expired keys are all `Unauthenticated`, with one
      message; the secret's hash is compared in constant time.
    - What a key needs is cached per process (see `ApiKeyCache`), so a warm key costs one
      HMAC and no database round trip.
    - `last_used_at` is written at most once a minute per key, in the background: a failed
      write is logged and never fails the request.
    """

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        secret_hasher: SecretHasher,
        cache: ApiKeyCache,
        clock: Clock,
        max_tracked_keys: int = 100_000,
    ) -> None:
        self._uow = uow_factory
        self._hasher = secret_hasher
        self._cache = cache
        self._clock = clock
        self._max_tracked = max_tracked_keys
        self._touched: OrderedDict[str, datetime] = OrderedDict()
        self._touches: set[asyncio.Task[None]] = set()

    async def __call__(self, credential: str) -> Caller:
        parts = split_credential(credential)
        if parts is None:
            raise Unauthenticated(BAD_KEY)
        key_id, secret = parts
        found = await self._cache.get(key_id, self._load)
        now = self._clock.now()
        if found is None or not self._hasher.matches(secret, found.secret_hash):
            raise Unauthenticated(BAD_KEY)
        if found.expires_at is not None and now >= found.expires_at:
            raise Unauthenticated(BAD_KEY)
        self._touch_later(key_id, now)
        return Caller.api_key(found.tenant_id, key_id, found.scopes)

    async def _load(self, key_id: str) -> ApiKeyCredential | None:
        async with self._uow.reading() as uow:
            key = await uow.api_keys.get(key_id)
        if key is None:
            return None
        return ApiKeyCredential(
            key_id=key.id,
            tenant_id=key.tenant_id,
            scopes=frozenset(Scope(scope) for scope in key.scopes),
            secret_hash=key.secret_hash,
            expires_at=key.expires_at,
        )

    def _touch_later(self, key_id: str, now: datetime) -> None:
        last = self._touched.get(key_id)
        if last is not None and now - last < TOUCH_INTERVAL:
            return
        # Marked before the write starts, so concurrent requests don't all write.
        self._touched[key_id] = now
        self._touched.move_to_end(key_id)
        if len(self._touched) > self._max_tracked:
            self._touched.popitem(last=False)
        task = asyncio.create_task(self._touch(key_id, now))
        self._touches.add(task)
        task.add_done_callback(self._touches.discard)

    async def _touch(self, key_id: str, now: datetime) -> None:
        try:
            async with self._uow() as uow:
                await uow.api_keys.touch(key_id, now)
                await uow.commit()
        except Exception:
            logger.exception("could not record the use of API key %s", key_id)

    async def wait_for_touches(self) -> None:
        """Let the pending `last_used_at` writes finish (tests, shutdown)."""
        while self._touches:
            await asyncio.gather(*self._touches, return_exceptions=True)
