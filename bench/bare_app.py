"""The baseline: a bare Litestar app with one endpoint returning a constant JSON body."""

from __future__ import annotations

from litestar import Litestar, get

BARE_PATH = "/bare"
_BODY = {"status": "ok", "service": "bare"}


@get(BARE_PATH)
async def bare() -> dict[str, str]:
    return _BODY


def create_app() -> Litestar:
    """A factory, served like Astra's (`uvicorn --factory`); importing builds nothing."""
    return Litestar(route_handlers=[bare])
