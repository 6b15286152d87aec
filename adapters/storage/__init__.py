"""Object storage for user uploads (avatars)."""

from adapters.storage.local import LocalObjectStorage

__all__ = ["LocalObjectStorage"]
