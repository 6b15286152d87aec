"""Image decoding and thumbnails."""

from adapters.images.pillow import PillowImageProcessor

__all__ = ["PillowImageProcessor"]
