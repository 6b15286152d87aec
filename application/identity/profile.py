"""The signed-in user's own account: read it, rename, change password, change avatar."""

from __future__ import annotations

import logging
import mimetypes

from application.common.ports import Clock, IdGenerator, RateLimiter, UnitOfWorkFactory
from application.identity._support import count_or_refuse, revoke_sessions_of
from application.identity.commands import (
    IdentityPolicy,
    UpdateAvatarCommand,
    UpdateNameCommand,
    UpdatePasswordCommand,
)
from application.identity.ports import (
    AccountReader,
    AccountView,
    ImageProcessor,
    ObjectStorage,
    PasswordHasher,
    SessionRevocations,
)
from domain.errors import InvalidArgument, Unauthenticated
from domain.identity.rules import check_password, clean_name

logger = logging.getLogger(__name__)

AVATAR_MAX_BYTES = 2 * 1024 * 1024
ACCOUNT_GONE = "the account no longer exists"


class GetUser:
    """Return the caller's account.

    - A missing account (deleted meanwhile) → `Unauthenticated`: the credential is stale.
    - Read straight from the read model: this runs on every page load of the web app.
    """

    def __init__(self, reader: AccountReader) -> None:
        self._reader = reader

    async def __call__(self, user_id: str) -> AccountView:
        account = await self._reader.account(user_id)
        if account is None:
            raise Unauthenticated(ACCOUNT_GONE)
        return account


class UpdateUserName:
    """Change the display name.

    - The name is trimmed and must be 1-100 characters without control characters.
    """

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow_factory
        self._clock = clock

    async def __call__(self, command: UpdateNameCommand) -> None:
        name = clean_name(command.name)
        async with self._uow() as uow:
            user = await uow.users.get(command.user_id)
            if user is None:
                raise Unauthenticated(ACCOUNT_GONE)
            user.rename(name, self._clock.now())
            await uow.users.update(user)
            await uow.commit()


class UpdateUserPassword:
    """Change the password, knowing the current one.

    - A wrong (or absent) current password → `old_password` is incorrect. Like sign-in, 10
      tries per user in 15 minutes (counted before verifying), then `ResourceExhausted`: a
      stolen access token must not become a way to guess the password.
    - The new password follows the policy (8-128 characters, not the email).
    - Every other session of the user is revoked; the caller's own stays signed in.
    """

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        passwords: PasswordHasher,
        revocations: SessionRevocations,
        limiter: RateLimiter,
        clock: Clock,
        policy: IdentityPolicy,
    ) -> None:
        self._uow = uow_factory
        self._passwords = passwords
        self._revocations = revocations
        self._limiter = limiter
        self._clock = clock
        self._policy = policy

    async def __call__(self, command: UpdatePasswordCommand) -> None:
        key = f"password-change:{command.user_id}"
        await count_or_refuse(
            self._limiter,
            key,
            self._policy.login_failures_per_window,
            self._policy.login_failure_window_seconds,
            "too many wrong current passwords; try again later",
        )
        now = self._clock.now()
        async with self._uow() as uow:
            user = await uow.users.get(command.user_id)
            if user is None:
                raise Unauthenticated(ACCOUNT_GONE)
            if user.password_hash is None or not await self._passwords.verify(
                user.password_hash, command.old_password
            ):
                raise InvalidArgument("old_password", "is incorrect")
            check_password(command.new_password, user.email, field="new_password")
            user.set_password(await self._passwords.hash(command.new_password), now)
            await uow.users.update(user)
            revoked = await revoke_sessions_of(uow, user.id, now, except_id=command.session_id)
            # Announced before the commit: a failed announcement changes nothing (see Logout).
            await revoked.publish(self._revocations)
            await uow.commit()
        await self._limiter.reset(key)


class UpdateUserAvatar:
    """Replace the avatar with a thumbnail of the uploaded image; returns its URL.

    - At most 2 MiB; the bytes must decode as an image (PNG, JPEG or WebP).
    - Stored as `avatars/<user_id>/<new id>.<ext>`, so every upload gets a fresh URL.
    - The previous avatar object is deleted if it was ours, on a best-effort basis.
    """

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        images: ImageProcessor,
        storage: ObjectStorage,
        ids: IdGenerator,
        clock: Clock,
    ) -> None:
        self._uow = uow_factory
        self._images = images
        self._storage = storage
        self._ids = ids
        self._clock = clock

    async def __call__(self, command: UpdateAvatarCommand) -> str:
        if not command.data:
            raise InvalidArgument("file", "is required")
        if len(command.data) > AVATAR_MAX_BYTES:
            raise InvalidArgument("file", "must be at most 2 MiB")
        content_type = command.content_type or mimetypes.guess_type(command.filename)[0] or ""
        thumbnail = await self._images.thumbnail(command.data, content_type)
        extension = thumbnail.extension.lstrip(".")
        key = f"{_avatar_prefix(command.user_id)}{self._ids.new_id()}.{extension}"
        # Upload before opening the transaction: no database connection waits on storage.
        url = await self._storage.put(key, thumbnail.data, thumbnail.content_type)
        try:
            async with self._uow() as uow:
                user = await uow.users.get(command.user_id)
                if user is None:
                    raise Unauthenticated(ACCOUNT_GONE)
                previous_url = user.avatar_url
                user.change_avatar(url, self._clock.now())
                await uow.users.update(user)
                await uow.commit()
        except Exception:
            await self._forget(key)
            raise
        previous_key = _own_avatar_key(previous_url, command.user_id)
        if previous_key and previous_key != key:
            await self._forget(previous_key)
        return url

    async def _forget(self, key: str) -> None:
        # A leftover object only costs storage; failing the request over it would be worse.
        try:
            await self._storage.delete(key)
        except Exception:
            logger.warning("could not delete avatar object %s", key, exc_info=True)


def _avatar_prefix(user_id: str) -> str:
    return f"avatars/{user_id}/"


def _own_avatar_key(url: str, user_id: str) -> str | None:
    """The storage key behind one of our avatar URLs; None for any other URL (e.g. OAuth)."""
    prefix = _avatar_prefix(user_id)
    start = url.find(prefix)
    if start < 0:
        return None
    key = url[start:].split("?", 1)[0].split("#", 1)[0]
    return key if len(key) > len(prefix) else None
