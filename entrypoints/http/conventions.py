"""Contract §1.3 JSON rules shared by every endpoint: int64 as strings, timestamps, paging."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar.openapi.spec import Schema
from litestar.plugins import OpenAPISchemaPlugin
from litestar.typing import FieldDefinition


class Int64(int):
    """An int64 request field: accepts a JSON number or a numeric string."""


INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def decode_int64(_: type[Any], value: Any) -> Int64:
    if isinstance(value, bool):
        raise TypeError("Expected `int64`, got `bool`")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
        number = int(value.strip())
    else:
        raise TypeError("Expected `int64` as a number or a numeric string")
    if not INT64_MIN <= number <= INT64_MAX:
        raise ValueError("int64 out of range")
    return Int64(number)


def is_int64(target: Any) -> bool:
    return target is Int64


TYPE_DECODERS = [(is_int64, decode_int64)]


def i64(value: int) -> str:
    """Write an int64 response field as the contract wants it: a decimal string."""
    return str(value)


def timestamp(value: datetime | None) -> str:
    """RFC 3339 UTC with a `Z` and millisecond precision; missing values become ``""``."""
    if value is None:
        return ""
    utc = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


class Int64SchemaPlugin(OpenAPISchemaPlugin):
    """Documents `Int64` request fields as number-or-numeric-string in OpenAPI."""

    @staticmethod
    def is_plugin_supported_type(value: Any) -> bool:
        return value is Int64

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: Any) -> Schema:
        from litestar.openapi.spec.enums import OpenAPIType

        return Schema(
            one_of=[
                Schema(type=OpenAPIType.INTEGER, format="int64"),  # type: ignore[arg-type]
                Schema(type=OpenAPIType.STRING, pattern=r"^-?\d+$"),
            ],
            description="int64: a number or a numeric string",
        )


class Page(msgspec.Struct):
    page: str
    limit: str
    total: str


class EmptyResponse(msgspec.Struct):
    """The contract's `{}`."""
