"""Avatar thumbnails with Pillow: sniffed, bounded, re-encoded off the event loop."""

from __future__ import annotations

import asyncio
import io
import warnings
from typing import Literal

from PIL import Image, ImageOps

from application.identity.ports import ImageProcessor, Thumbnail
from domain.errors import InvalidArgument

_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG = b"\xff\xd8\xff"
_OUTPUTS = {
    "WEBP": ("image/webp", "webp"),
    "PNG": ("image/png", "png"),
}


def sniff_format(data: bytes) -> str | None:
    """The Pillow format name the magic bytes announce, or None for anything else."""
    if data.startswith(_PNG):
        return "PNG"
    if data.startswith(_JPEG):
        return "JPEG"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


class PillowImageProcessor(ImageProcessor):
    """Turns an uploaded PNG, JPEG or WebP into a thumbnail no larger than `max_side` square.

    - The declared content type is ignored; the bytes' own signature decides, and only the
      matching Pillow decoder is allowed to run.
    - Pixel counts above `max_pixels` are refused before decoding (decompression bombs).
    - EXIF orientation is applied, metadata is dropped (re-encoding strips EXIF, GPS included).
    """

    def __init__(
        self,
        max_side: int = 256,
        *,
        max_pixels: int = 25_000_000,
        max_bytes: int = 2 * 1024 * 1024,
        output_format: Literal["WEBP", "PNG"] = "WEBP",
    ) -> None:
        self._max_side = max_side
        self._max_pixels = max_pixels
        self._max_bytes = max_bytes
        self._output_format = output_format

    async def thumbnail(self, data: bytes, content_type: str) -> Thumbnail:
        if len(data) > self._max_bytes:
            raise InvalidArgument("file", f"must be at most {self._max_bytes // 1024} KiB")
        source_format = sniff_format(data)
        if source_format is None:
            raise InvalidArgument("file", "must be a PNG, JPEG or WebP image")
        encoded = await asyncio.to_thread(self._render, data, source_format)
        media_type, extension = _OUTPUTS[self._output_format]
        return Thumbnail(data=encoded, content_type=media_type, extension=extension)

    def _render(self, data: bytes, source_format: str) -> bytes:
        try:
            with warnings.catch_warnings():
                # Our own pixel limit below is stricter; Pillow's warning would only be noise.
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(io.BytesIO(data), formats=[source_format]) as image:
                    width, height = image.size
                    if width < 1 or height < 1 or width * height > self._max_pixels:
                        raise InvalidArgument("file", "has too many pixels")
                    image.thumbnail((self._max_side, self._max_side), Image.Resampling.LANCZOS)
                    upright = ImageOps.exif_transpose(image)
                    return self._encode(upright)
        except InvalidArgument:
            raise
        except Image.DecompressionBombError:
            # Pillow's own limit, checked while reading the header, can fire before ours.
            raise InvalidArgument("file", "has too many pixels") from None
        except (OSError, ValueError, SyntaxError, EOFError):
            # Pillow reports corrupt or truncated data through all of these.
            raise InvalidArgument("file", "is not a valid image") from None

    def _encode(self, image: Image.Image) -> bytes:
        has_alpha = image.mode in {"RGBA", "LA", "PA"} or "transparency" in image.info
        converted = image.convert("RGBA" if has_alpha else "RGB")
        buffer = io.BytesIO()
        if self._output_format == "WEBP":
            converted.save(buffer, "WEBP", quality=85, method=4)
        else:
            converted.save(buffer, "PNG", optimize=True)
        return buffer.getvalue()
