"""Liveness, readiness and the files the local object storage serves."""

from __future__ import annotations

import msgspec
from litestar import Controller, get
from litestar.params import FromPath
from litestar.response import File

from domain.errors import NotFound, Unavailable
from entrypoints.http.dependencies import Deps

MEDIA_TYPES = {
    ".webp": "image/webp",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
}


class HealthResponse(msgspec.Struct):
    status: str


class ReadinessResponse(msgspec.Struct):
    status: str
    checks: dict[str, str]


class HealthController(Controller):
    tags = ["Operations"]
    include_in_schema = True

    @get("/healthz", operation_id="Healthz")
    async def healthz(self) -> HealthResponse:
        return HealthResponse(status="ok")

    @get("/readyz", operation_id="Readyz")
    async def readyz(self, container: Deps) -> ReadinessResponse:
        """Ready when the database and (if configured) Redis answer and the process is not
        shutting down; otherwise `14`."""
        if container.drain.draining:
            raise Unavailable("not ready: shutting down", retry_after=1)
        checks = await container.readiness()
        failing = sorted(name for name, state in checks.items() if state != "ok")
        if failing:
            raise Unavailable(f"not ready: {', '.join(failing)} unreachable", retry_after=1)
        return ReadinessResponse(status="ok", checks=checks)


class MediaController(Controller):
    path = "/media"
    tags = ["Operations"]
    include_in_schema = False

    @get("/{key:path}", operation_id="MediaGet")
    async def media(self, key: FromPath[str], container: Deps) -> File:
        found = container.media_path(key.lstrip("/"))
        if found is None:
            raise NotFound("not found")
        # By our own suffixes: Python's mimetypes does not know every image type (webp).
        media_type = MEDIA_TYPES.get(found.suffix.lower(), "application/octet-stream")
        return File(path=found, content_disposition_type="inline", media_type=media_type)
