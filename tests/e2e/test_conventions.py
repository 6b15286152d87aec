"""Contract §1 conventions that every endpoint shares: errors, request ids, schema, health."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from litestar.testing import AsyncTestClient

from entrypoints.app import create_app
from entrypoints.container import Overrides
from entrypoints.settings import Settings

Client = AsyncTestClient[Any]


async def test_unknown_route_is_404_with_code_5(client: Client) -> None:
    response = await client.get("/account/v1/nope")
    assert response.status_code == 404
    assert response.json() == {"code": 5, "message": "not found"}


async def test_wrong_method_is_501_with_code_12(client: Client) -> None:
    response = await client.get("/account/v1/auth/login")
    assert response.status_code == 501
    assert response.json()["code"] == 12


async def test_malformed_json_is_400_with_code_3(client: Client) -> None:
    response = await client.post(
        "/account/v1/auth/login", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["code"] == 3


async def test_wrong_type_names_the_field(client: Client) -> None:
    response = await client.post("/account/v1/auth/login", json={"email": 42, "password": "x"})
    assert response.status_code == 400
    assert response.json()["code"] == 3
    assert "email" in response.json()["message"]


async def test_missing_fields_take_defaults_and_fail_validation_by_name(client: Client) -> None:
    response = await client.post("/account/v1/auth/register", json={"unknown": 1})
    assert response.status_code == 400
    assert response.json()["message"].startswith("email")


async def test_body_too_large_is_refused_with_an_error_body(client: Client) -> None:
    response = await client.post(
        "/account/v1/auth/login",
        content=b'{"email": "' + b"a" * (4 * 1024 * 1024) + b'"}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == 3
    assert "too large" in response.json()["message"]


async def test_missing_or_bad_credentials_are_401(client: Client) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer eyJ.bad.token"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer sk_live_a_b"},
    ):
        response = await client.get("/account/v1/user", headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["code"] == 16


async def test_request_id_is_echoed_or_generated(client: Client) -> None:
    echoed = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    generated = await client.get("/healthz")
    assert len(generated.headers["x-request-id"]) >= 16
    error = await client.get("/nope", headers={"X-Request-ID": "err-1"})
    assert error.headers["x-request-id"] == "err-1"


async def test_health_and_readiness(client: Client) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "redis": "ok"}


async def test_openapi_lists_contract_operations(client: Client) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert spec["openapi"].startswith("3.1")
    operations = {
        op["operationId"]: op["tags"]
        for path in spec["paths"].values()
        for op in path.values()
        if isinstance(op, dict) and "operationId" in op
    }
    for name in (
        "Register",
        "RegisterVerify",
        "UserInitial",
        "Login",
        "Logout",
        "TokenRefresh",
        "ForgotPassword",
        "ForgotPasswordVerify",
        "ForgotPasswordReset",
        "UserGet",
        "UserDelete",
        "UserUpdateAvatar",
        "UserUpdateName",
        "UserUpdatePassword",
        # Sign-in through identity providers (issue 13): all eight operations.
        "OAUTHLoginAndRegister",
        "OAuthLoginProxy",
        "OAuthCallbackUrl",
        "OAuthAuthorizeProxy",
        "OAuthPostCallbackUrl",
        "OAuthExchange",
        "Session",
        "GetTenantWatiUserInfo",
    ):
        assert operations[name] == ["AccountService"], name
    docs = await client.get("/schema")
    assert docs.status_code == 200
    assert "text/html" in docs.headers["content-type"]


class ExplodingHasher:
    async def hash(self, password: str) -> str:
        raise RuntimeError("SELECT secret FROM internals")

    async def verify(self, password_hash: str, password: str) -> bool:
        raise RuntimeError("SELECT secret FROM internals")


async def test_unhandled_exception_is_500_without_internals(
    e2e_settings: Settings, tmp_path: Path
) -> None:
    app = create_app(e2e_settings, Overrides(password_hasher=ExplodingHasher()))
    async with AsyncTestClient(app=app) as isolated:
        response = await isolated.post(
            "/account/v1/auth/login", json={"email": "who@example.com", "password": "whatever-1"}
        )
    assert response.status_code == 500
    assert response.json() == {"code": 13, "message": "internal error"}


async def test_readiness_is_503_when_redis_is_down(e2e_settings: Settings) -> None:
    settings = e2e_settings.with_overrides(redis_url="redis://127.0.0.1:1/0")
    async with AsyncTestClient(app=create_app(settings)) as isolated:
        response = await isolated.get("/readyz")
    assert response.status_code == 503
    assert response.json()["code"] == 14
    assert "redis" in response.json()["message"]
    assert response.headers["retry-after"] == "1"


async def test_openapi_documents_every_error_answer_and_credential_kind(client: Client) -> None:
    spec = (await client.get("/schema/openapi.json")).json()
    assert set(spec["components"]["securitySchemes"]) == {"TOKEN", "API_KEY", "INTERNAL"}
    error = spec["components"]["schemas"]["Error"]
    assert error["required"] == ["code", "message"]
    assert "status_code" not in json.dumps(spec)  # Litestar's own error shape is gone
    operations = [
        (path, method, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if isinstance(op, dict) and "responses" in op
    ]
    assert len(operations) > 60
    for path, method, op in operations:
        statuses = {int(status) for status in op["responses"]}
        assert {400, 404, 409, 429, 500, 503} <= statuses, (method, path)
        for status, answer in op["responses"].items():
            if int(status) >= 400:
                schema = answer["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, (method, path, status)
        kinds = {kind for requirement in op.get("security", []) for kind in requirement}
        if "/internal/" in path:
            assert kinds == {"INTERNAL"}, (method, path)
        if kinds:
            assert {401, 403} <= statuses, (method, path)
    by_id = {op.get("operationId"): op for _, _, op in operations}
    assert by_id["UserGet"]["security"] == [{"TOKEN": []}]
    assert by_id["GetAgentList"]["security"] == [{"TOKEN": []}, {"API_KEY": []}]
    assert "security" not in by_id["Login"]
    assert 401 not in {int(status) for status in by_id["Login"]["responses"]}
