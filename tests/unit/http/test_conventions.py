"""Contract §1.3 conventions through a real Litestar route: int64 in, strings out, errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import msgspec
import pytest
from litestar import Litestar, post
from litestar.params import JSONBody
from litestar.testing import TestClient

from entrypoints.http.conventions import TYPE_DECODERS, Int64, Int64SchemaPlugin, i64, timestamp
from entrypoints.http.errors import EXCEPTION_HANDLERS


class AdjustRequest(msgspec.Struct):
    amount: Int64 = Int64(0)
    reason: str = ""


class AdjustResponse(msgspec.Struct):
    amount: str
    reason: str


@post("/adjust", status_code=200)
async def adjust(data: JSONBody[AdjustRequest]) -> AdjustResponse:
    return AdjustResponse(amount=i64(data.amount * 2), reason=data.reason)


def client() -> TestClient[Litestar]:
    app = Litestar(
        route_handlers=[adjust],
        type_decoders=TYPE_DECODERS,
        exception_handlers=EXCEPTION_HANDLERS,
        plugins=[Int64SchemaPlugin()],
    )
    return TestClient(app=app)


@pytest.mark.parametrize("sent", [21, "21", " 21 "])
def test_int64_is_read_from_a_number_or_a_numeric_string(sent: object) -> None:
    with client() as test_client:
        response = test_client.post("/adjust", json={"amount": sent})
    assert response.status_code == 200
    assert response.json() == {"amount": "42", "reason": ""}


def test_large_int64_survives_as_a_string() -> None:
    with client() as test_client:
        response = test_client.post("/adjust", json={"amount": "4611686018427387903"})
    assert response.json()["amount"] == "9223372036854775806"


@pytest.mark.parametrize("sent", ["12abc", True, 1.5, "99999999999999999999", None])
def test_bad_int64_is_refused_naming_the_field(sent: object) -> None:
    with client() as test_client:
        response = test_client.post("/adjust", json={"amount": sent})
    assert response.status_code == 400
    assert response.json()["code"] == 3
    assert "amount" in response.json()["message"]


def test_int64_is_documented_as_number_or_string() -> None:
    with client() as test_client:
        spec = test_client.get("/schema/openapi.json").json()
    amount = spec["components"]["schemas"]["AdjustRequest"]["properties"]["amount"]
    assert {option["type"] for option in amount["oneOf"]} == {"integer", "string"}


def test_timestamps_are_rfc3339_utc_with_z_and_milliseconds() -> None:
    madrid = timezone(timedelta(hours=1))
    assert timestamp(datetime(2026, 1, 1, 11, 0, 20, 21000, tzinfo=madrid)) == (
        "2026-01-01T10:00:20.021Z"
    )
    assert timestamp(datetime(2026, 1, 1, 10, 0, tzinfo=UTC)) == "2026-01-01T10:00:00.000Z"
    assert timestamp(None) == ""
