"""Objects stored as files under one folder and served by the app itself (embedded mode)."""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from pathlib import Path

from application.identity.ports import ObjectStorage
from domain.errors import InvalidArgument

# Keys are ours (e.g. "avatars/<user id>/<random>.webp"), so a strict alphabet costs nothing
# and rules out traversal, hidden files, backslashes and odd encodings at once.
_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")
MAX_KEY_LENGTH = 512


class LocalObjectStorage(ObjectStorage):
    """Writes `root/key` atomically and answers `{public_base_url}/{key}`."""

    def __init__(self, root: Path, public_base_url: str) -> None:
        self._root = root.resolve()
        self._base_url = public_base_url.rstrip("/")

    async def put(self, key: str, data: bytes, content_type: str) -> str:
        path = self._path_for(key)
        if path is None:
            raise InvalidArgument("key", "is not a valid object key")
        await asyncio.to_thread(_write_atomically, path, data)
        return f"{self._base_url}/{key}"

    async def delete(self, key: str) -> None:
        path = self._path_for(key)
        if path is None:
            raise InvalidArgument("key", "is not a valid object key")
        await asyncio.to_thread(path.unlink, missing_ok=True)

    def resolve(self, key: str) -> Path | None:
        """The file to serve for `key`, or None when the key is invalid or nothing is stored.

        For the HTTP route that serves `{public_base_url}/{key}`; never escapes the root, even
        through a symlink planted inside it.
        """
        path = self._path_for(key)
        if path is None or not path.is_file():
            return None
        real = path.resolve()
        return real if real.is_relative_to(self._root) else None

    def _path_for(self, key: str) -> Path | None:
        if not key or len(key) > MAX_KEY_LENGTH:
            return None
        segments = key.split("/")
        if not all(_SEGMENT.fullmatch(segment) for segment in segments):
            return None
        if any(segment in {".", ".."} for segment in segments):
            return None
        return self._root.joinpath(*segments)


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Same folder as the target so os.replace is an atomic rename on one filesystem.
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
