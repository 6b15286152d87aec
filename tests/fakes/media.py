"""In-memory object storage and an image processor that needs no image library."""

from __future__ import annotations

from application.identity.ports import ImageProcessor, ObjectStorage, Thumbnail
from domain.errors import InvalidArgument

STORAGE_BASE_URL = "https://cdn.test/"


class FakeObjectStorage(ObjectStorage):
    def __init__(self, *, fail_deletes: bool = False) -> None:
        self.objects: dict[str, tuple[bytes, str]] = {}
        self.fail_deletes = fail_deletes

    async def put(self, key: str, data: bytes, content_type: str) -> str:
        self.objects[key] = (data, content_type)
        return f"{STORAGE_BASE_URL}{key}"

    async def delete(self, key: str) -> None:
        if self.fail_deletes:
            raise OSError("storage is down")
        self.objects.pop(key, None)


class FakeImageProcessor(ImageProcessor):
    """Bytes starting with `IMG` are an image; the thumbnail is a recognisable PNG stand-in."""

    def __init__(self) -> None:
        self.seen_content_types: list[str] = []

    async def thumbnail(self, data: bytes, content_type: str) -> Thumbnail:
        self.seen_content_types.append(content_type)
        if not data.startswith(b"IMG"):
            raise InvalidArgument("file", "is not a PNG, JPEG or WebP image")
        return Thumbnail(data=b"THUMB" + data[:16], content_type="image/png", extension="png")
