"""GetUser, UpdateUserName, UpdateUserPassword and UpdateUserAvatar."""

from __future__ import annotations

import pytest

from application.common.ports import UnitOfWork
from application.identity.commands import (
    LoginCommand,
    UpdateAvatarCommand,
    UpdateNameCommand,
    UpdatePasswordCommand,
)
from domain.errors import InvalidArgument, ResourceExhausted, Unauthenticated, Unavailable
from domain.identity.models import User
from tests.fakes.identity import IdentityKit, make_identity_kit
from tests.fakes.media import STORAGE_BASE_URL

EMAIL = "ann@example.com"
PASSWORD = "correct horse battery"
IP = "10.0.0.1"
IMAGE = b"IMG" + b"\x00" * 100


async def signed_up() -> tuple[IdentityKit, User, str]:
    kit = make_identity_kit()
    token = (await kit.sign_up(EMAIL, PASSWORD)).token
    return kit, kit.user_by_email(EMAIL), kit.session_of(token).id


async def test_get_user_returns_the_account() -> None:
    kit, user, _ = await signed_up()
    loaded = await kit.get_user()(user.id)
    assert loaded.email == EMAIL
    assert loaded.is_initialized


async def test_get_user_of_a_deleted_account_is_unauthenticated() -> None:
    kit = make_identity_kit()
    with pytest.raises(Unauthenticated):
        await kit.get_user()("gone")


async def test_update_name_trims_and_saves() -> None:
    kit, user, _ = await signed_up()
    kit.clock.advance(minutes=1)
    await kit.update_user_name()(UpdateNameCommand(user.id, "  Ann Lee "))
    saved = kit.user_by_email(EMAIL)
    assert saved.name == "Ann Lee"
    assert saved.updated_at == kit.clock.now()


async def test_update_name_refuses_an_empty_name() -> None:
    kit, user, _ = await signed_up()
    with pytest.raises(InvalidArgument, match="name"):
        await kit.update_user_name()(UpdateNameCommand(user.id, "   "))


async def test_password_change_revokes_other_sessions_but_not_the_current() -> None:
    kit, user, current = await signed_up()
    other = (await kit.login()(LoginCommand(EMAIL, PASSWORD, IP))).token
    other_session = kit.session_of(other).id

    await kit.update_user_password()(
        UpdatePasswordCommand(user.id, current, PASSWORD, "my new password")
    )

    assert kit.store.sessions[current].revoked_at is None
    assert kit.store.sessions[other_session].revoked_at is not None
    assert kit.revocations.revoked_ids == {other_session}
    with pytest.raises(Unauthenticated):
        await kit.authenticate()(other)
    await kit.login()(LoginCommand(EMAIL, "my new password", IP))


async def test_password_change_needs_the_current_password() -> None:
    kit, user, current = await signed_up()
    with pytest.raises(InvalidArgument, match="old_password: is incorrect"):
        await kit.update_user_password()(
            UpdatePasswordCommand(user.id, current, "not my password", "my new password")
        )
    assert kit.revocations.calls == []


async def test_password_change_without_a_password_yet_is_refused() -> None:
    kit = make_identity_kit()
    token = (await kit.sign_up(EMAIL, password=None)).token
    user = kit.user_by_email(EMAIL)
    with pytest.raises(InvalidArgument, match="old_password"):
        await kit.update_user_password()(
            UpdatePasswordCommand(user.id, kit.session_of(token).id, "", "my new password")
        )


async def test_password_change_enforces_the_policy() -> None:
    kit, user, current = await signed_up()
    with pytest.raises(InvalidArgument, match="new_password"):
        await kit.update_user_password()(UpdatePasswordCommand(user.id, current, PASSWORD, EMAIL))


async def test_avatar_is_thumbnailed_stored_and_linked() -> None:
    kit, user, _ = await signed_up()
    url = await kit.update_user_avatar()(UpdateAvatarCommand(user.id, IMAGE, "me.jpg"))

    [key] = kit.storage.objects
    assert key.startswith(f"avatars/{user.id}/")
    assert key.endswith(".png")
    assert kit.storage.objects[key] == (b"THUMB" + IMAGE[:16], "image/png")
    assert url == f"{STORAGE_BASE_URL}{key}"
    assert kit.user_by_email(EMAIL).avatar_url == url
    assert kit.images.seen_content_types == ["image/jpeg"]


async def test_a_new_avatar_deletes_our_previous_one() -> None:
    kit, user, _ = await signed_up()
    first = await kit.update_user_avatar()(UpdateAvatarCommand(user.id, IMAGE))
    second = await kit.update_user_avatar()(UpdateAvatarCommand(user.id, IMAGE))
    assert first != second
    assert [f"{STORAGE_BASE_URL}{key}" for key in kit.storage.objects] == [second]


async def test_an_avatar_from_elsewhere_is_left_alone() -> None:
    kit, user, _ = await signed_up()
    async with kit.uow_factory() as uow:
        await _set_avatar(uow, user.id, "https://lh3.googleusercontent.com/a/photo.jpg")
    kit.storage.objects["avatars/someone-else/x.png"] = (b"", "image/png")
    await kit.update_user_avatar()(UpdateAvatarCommand(user.id, IMAGE))
    assert "avatars/someone-else/x.png" in kit.storage.objects


async def test_a_failing_cleanup_does_not_fail_the_upload() -> None:
    kit, user, _ = await signed_up()
    await kit.update_user_avatar()(UpdateAvatarCommand(user.id, IMAGE))
    kit.storage.fail_deletes = True
    url = await kit.update_user_avatar()(UpdateAvatarCommand(user.id, IMAGE))
    assert kit.user_by_email(EMAIL).avatar_url == url


async def test_an_avatar_over_two_mebibytes_is_refused() -> None:
    kit, user, _ = await signed_up()
    data = IMAGE + b"\x00" * (2 * 1024 * 1024 - len(IMAGE) + 1)
    with pytest.raises(InvalidArgument, match="file: must be at most 2 MiB"):
        await kit.update_user_avatar()(UpdateAvatarCommand(user.id, data))
    assert kit.storage.objects == {}


async def test_an_avatar_of_exactly_two_mebibytes_is_accepted() -> None:
    kit, user, _ = await signed_up()
    data = IMAGE + b"\x00" * (2 * 1024 * 1024 - len(IMAGE))
    await kit.update_user_avatar()(UpdateAvatarCommand(user.id, data))
    assert len(kit.storage.objects) == 1


async def test_bytes_that_are_not_an_image_are_refused() -> None:
    kit, user, _ = await signed_up()
    with pytest.raises(InvalidArgument, match="file"):
        await kit.update_user_avatar()(UpdateAvatarCommand(user.id, b"%PDF-1.7"))
    assert kit.storage.objects == {}
    assert kit.user_by_email(EMAIL).avatar_url == ""


async def test_the_upload_is_removed_when_the_account_is_gone() -> None:
    kit = make_identity_kit()
    with pytest.raises(Unauthenticated):
        await kit.update_user_avatar()(UpdateAvatarCommand("gone", IMAGE))
    assert kit.storage.objects == {}


async def _set_avatar(uow: UnitOfWork, user_id: str, url: str) -> None:
    user = await uow.users.get(user_id)
    assert user is not None
    user.change_avatar(url, user.updated_at)
    await uow.users.update(user)
    await uow.commit()


async def test_password_change_while_revocations_are_down_changes_nothing() -> None:
    kit, user, current = await signed_up()
    other = (await kit.login()(LoginCommand(EMAIL, PASSWORD, IP))).token
    kit.revocations.down = True

    with pytest.raises(Unavailable):
        await kit.update_user_password()(
            UpdatePasswordCommand(user.id, current, PASSWORD, "my new password")
        )

    assert kit.store.sessions[kit.session_of(other).id].revoked_at is None
    await kit.login()(LoginCommand(EMAIL, PASSWORD, IP))  # the old password still holds


async def test_wrong_current_passwords_are_limited_like_sign_in() -> None:
    kit, user, current = await signed_up()
    wrong = UpdatePasswordCommand(user.id, current, "not my password", "my new password")
    for _ in range(kit.policy.login_failures_per_window):
        with pytest.raises(InvalidArgument, match="old_password"):
            await kit.update_user_password()(wrong)
    right = UpdatePasswordCommand(user.id, current, PASSWORD, "my new password")
    with pytest.raises(ResourceExhausted):
        await kit.update_user_password()(right)  # even the right one: the window is spent
    kit.clock.advance(minutes=16)
    await kit.update_user_password()(right)
