"""The request class of the app: a JSON body the decoder cannot take is the client's error.

msgspec refuses JSON nested deeper than the interpreter's recursion limit with a
`RecursionError`, and bytes that are not UTF-8 with a `UnicodeDecodeError`; Litestar lets both
escape as if they were bugs (500). They are bad input: `3`, naming the body.

A NUL character (`\u0000`) is valid JSON but PostgreSQL cannot store it in text, so any string
holding one is refused here, naming its field, for every operation at once.
"""

from __future__ import annotations

from typing import Any

from litestar import Request

from domain.errors import InvalidArgument

NUL_MESSAGE = "must not contain NUL characters"
# Inside JSON a NUL can only be written as this escape: a cheap test before any walk.
_ESCAPED_NUL = b"\\u0000"


class AstraRequest(Request[Any, Any, Any]):
    async def json(self) -> Any:
        try:
            value = await super().json()
        except RecursionError:
            raise InvalidArgument("body", "is nested too deeply") from None
        except UnicodeDecodeError:
            raise InvalidArgument("body", "is not valid UTF-8") from None
        if _ESCAPED_NUL in await self.body():
            field = nul_field(value)
            if field is not None:
                raise InvalidArgument(field or "body", NUL_MESSAGE)
        return value


def nul_field(value: Any, path: str = "") -> str | None:
    """The dotted path of the first string (key or value) in `value` holding a NUL."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and "\x00" in key:
                return here.replace("\x00", "")  # named, not echoed
            found = nul_field(item, here)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = nul_field(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None
