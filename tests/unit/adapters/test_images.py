"""Avatar thumbnails: accepted formats, bounds, orientation and refusals."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from adapters.images import PillowImageProcessor
from domain.errors import InvalidArgument


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims `width` x `height` but carries almost no pixel data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 16)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
async def test_thumbnail_of_each_accepted_format_fits_the_bound(fmt: str) -> None:
    data = encode(Image.new("RGB", (1024, 512), (200, 30, 30)), fmt)
    thumbnail = await PillowImageProcessor(max_side=256).thumbnail(data, "image/whatever")
    assert thumbnail.content_type == "image/webp"
    assert thumbnail.extension == "webp"
    image = decode(thumbnail.data)
    assert image.format == "WEBP"
    assert image.size == (256, 128)


async def test_png_output_keeps_transparency() -> None:
    data = encode(Image.new("RGBA", (300, 300), (0, 0, 0, 0)), "PNG")
    processor = PillowImageProcessor(max_side=64, output_format="PNG")
    thumbnail = await processor.thumbnail(data, "image/png")
    assert (thumbnail.content_type, thumbnail.extension) == ("image/png", "png")
    image = decode(thumbnail.data)
    assert image.size == (64, 64)
    assert image.mode == "RGBA"
    assert image.getpixel((10, 10)) == (0, 0, 0, 0)


async def test_small_images_are_not_enlarged() -> None:
    data = encode(Image.new("L", (40, 20), 128), "PNG")
    thumbnail = await PillowImageProcessor(max_side=256).thumbnail(data, "image/png")
    assert decode(thumbnail.data).size == (40, 20)


async def test_exif_orientation_is_applied() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    data = encode(Image.new("RGB", (400, 200), (0, 120, 255)), "JPEG", exif=exif.tobytes())
    thumbnail = await PillowImageProcessor(max_side=100).thumbnail(data, "image/jpeg")
    assert decode(thumbnail.data).size == (50, 100)


async def test_palette_and_cmyk_images_are_converted() -> None:
    palette = encode(Image.new("P", (50, 50), 3), "PNG")
    cmyk = encode(Image.new("CMYK", (50, 50), (0, 50, 100, 0)), "JPEG")
    processor = PillowImageProcessor()
    for data in (palette, cmyk):
        assert decode((await processor.thumbnail(data, "image/png")).data).size == (50, 50)


@pytest.mark.parametrize(
    "data",
    [
        b"GIF89a" + b"\x00" * 100,
        b"<svg xmlns='http://www.w3.org/2000/svg'></svg>",
        b"",
        b"RIFF\x00\x00\x00\x00WAVEfmt ",
    ],
)
async def test_other_formats_are_refused(data: bytes) -> None:
    with pytest.raises(InvalidArgument, match="must be a PNG, JPEG or WebP image") as caught:
        await PillowImageProcessor().thumbnail(data, "image/png")
    assert caught.value.field == "file"


async def test_a_real_gif_is_refused_even_when_declared_as_png() -> None:
    data = encode(Image.new("P", (10, 10)), "GIF")
    with pytest.raises(InvalidArgument, match="must be a PNG, JPEG or WebP"):
        await PillowImageProcessor().thumbnail(data, "image/png")


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n" + b"garbage" * 20,
        b"\xff\xd8\xff" + b"\x00" * 50,
        b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\x01" * 20,
    ],
)
async def test_corrupt_images_are_refused(data: bytes) -> None:
    with pytest.raises(InvalidArgument, match="is not a valid image"):
        await PillowImageProcessor().thumbnail(data, "image/png")


async def test_truncated_image_is_refused() -> None:
    data = encode(Image.effect_noise((300, 300), 50).convert("RGB"), "PNG")
    with pytest.raises(InvalidArgument, match="is not a valid image"):
        await PillowImageProcessor().thumbnail(data[: len(data) // 2], "image/png")


async def test_decompression_bomb_is_refused_before_decoding() -> None:
    bomb = png_header_only(60_000, 60_000)
    assert len(bomb) < 200
    with pytest.raises(InvalidArgument, match="has too many pixels"):
        await PillowImageProcessor().thumbnail(bomb, "image/png")


async def test_pixel_limit_is_configurable() -> None:
    data = encode(Image.new("RGB", (200, 200)), "PNG")
    with pytest.raises(InvalidArgument, match="has too many pixels"):
        await PillowImageProcessor(max_pixels=100 * 100).thumbnail(data, "image/png")


async def test_files_over_the_byte_limit_are_refused() -> None:
    data = encode(Image.new("RGB", (10, 10)), "PNG")
    with pytest.raises(InvalidArgument, match="must be at most"):
        await PillowImageProcessor(max_bytes=len(data) - 1).thumbnail(data, "image/png")


async def test_image_just_over_our_pixel_limit_is_refused_before_decoding() -> None:
    header_only = png_header_only(6000, 5000)
    with pytest.raises(InvalidArgument, match="has too many pixels"):
        await PillowImageProcessor().thumbnail(header_only, "image/png")
