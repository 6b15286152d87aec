"""Objects stored as local files: round trip, atomic writes and refused keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.storage import LocalObjectStorage
from domain.errors import InvalidArgument

BAD_KEYS = [
    "",
    "../escape.png",
    "avatars/../../escape.png",
    "avatars/..",
    "/etc/passwd",
    "avatars//x.png",
    "avatars/./x.png",
    ".hidden",
    "avatars\\x.png",
    "avatars/x.png\x00",
    "avatars/ü.png",
    "a/" * 300 + "x",
]


def make_storage(tmp_path: Path) -> LocalObjectStorage:
    return LocalObjectStorage(tmp_path / "objects", "http://127.0.0.1:8000/files/")


async def test_put_writes_the_file_and_returns_its_public_url(tmp_path: Path) -> None:
    storage = make_storage(tmp_path)
    url = await storage.put("avatars/u1/abc.webp", b"bytes", "image/webp")
    assert url == "http://127.0.0.1:8000/files/avatars/u1/abc.webp"
    assert (tmp_path / "objects/avatars/u1/abc.webp").read_bytes() == b"bytes"


async def test_put_replaces_an_existing_object_and_leaves_no_temp_files(tmp_path: Path) -> None:
    storage = make_storage(tmp_path)
    await storage.put("a/b.png", b"one", "image/png")
    await storage.put("a/b.png", b"two", "image/png")
    assert [p.name for p in (tmp_path / "objects/a").iterdir()] == ["b.png"]
    assert (tmp_path / "objects/a/b.png").read_bytes() == b"two"


async def test_resolve_finds_stored_objects_only(tmp_path: Path) -> None:
    storage = make_storage(tmp_path)
    await storage.put("a/b.png", b"x", "image/png")
    resolved = storage.resolve("a/b.png")
    assert resolved is not None
    assert resolved.read_bytes() == b"x"
    assert storage.resolve("a/missing.png") is None
    assert storage.resolve("a") is None


async def test_delete_removes_the_object_and_tolerates_missing_ones(tmp_path: Path) -> None:
    storage = make_storage(tmp_path)
    await storage.put("a/b.png", b"x", "image/png")
    await storage.delete("a/b.png")
    await storage.delete("a/b.png")
    assert storage.resolve("a/b.png") is None


@pytest.mark.parametrize("key", BAD_KEYS)
async def test_put_refuses_keys_that_could_leave_the_root(tmp_path: Path, key: str) -> None:
    with pytest.raises(InvalidArgument):
        await make_storage(tmp_path).put(key, b"x", "image/png")
    assert not (tmp_path / "escape.png").exists()


@pytest.mark.parametrize("key", BAD_KEYS)
async def test_delete_refuses_bad_keys(tmp_path: Path, key: str) -> None:
    with pytest.raises(InvalidArgument):
        await make_storage(tmp_path).delete(key)


@pytest.mark.parametrize("key", BAD_KEYS)
def test_resolve_answers_none_for_bad_keys(tmp_path: Path, key: str) -> None:
    (tmp_path / "escape.png").write_bytes(b"secret")
    assert make_storage(tmp_path).resolve(key) is None


def test_resolve_does_not_follow_a_symlink_out_of_the_root(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("secret")
    root = tmp_path / "objects"
    root.mkdir()
    (root / "link.txt").symlink_to(tmp_path / "secret.txt")
    assert make_storage(tmp_path).resolve("link.txt") is None
