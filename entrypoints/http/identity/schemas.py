"""HTTP request and response bodies of the identity endpoints (contract §3)."""

from __future__ import annotations

import msgspec


class RegisterRequest(msgspec.Struct):
    email: str = ""


class RegisterResponse(msgspec.Struct):
    redirect_url: str
    token: str


class RegisterVerifyRequest(msgspec.Struct):
    email: str = ""
    code: str = ""
    token: str = ""
    from_link: str = ""
    country: str = ""


class TokenWithInitResponse(msgspec.Struct):
    token: str
    is_initialized: bool


class UserInitialRequest(msgspec.Struct):
    password: str = ""
    timezone: str = ""


class TokenResponse(msgspec.Struct):
    token: str


class LoginRequest(msgspec.Struct):
    email: str = ""
    password: str = ""


class TokenRefreshRequest(msgspec.Struct):
    token: str = ""


class TokenRefreshResponse(msgspec.Struct):
    new_token: str


class ForgotPasswordRequest(msgspec.Struct):
    email: str = ""


class ForgotPasswordVerifyRequest(msgspec.Struct):
    email: str = ""
    code: str = ""
    token: str = ""


class ForgotPasswordVerifyResponse(msgspec.Struct):
    redirect_url: str
    is_valid: bool
    email: str
    new_token: str


class ForgotPasswordResetRequest(msgspec.Struct):
    token: str = ""
    new_password: str = ""
    password_confirm: str = ""


class UserBody(msgspec.Struct):
    id: str
    email: str
    name: str
    avatar_url: str
    timezone: str
    is_initialized: bool
    email_verified: bool
    current_tenant_id: str
    auth_providers: list[str]
    created_at: str
    updated_at: str


class UserGetResponse(msgspec.Struct):
    user: UserBody


class UserUpdateNameRequest(msgspec.Struct):
    name: str = ""


class UserUpdatePasswordRequest(msgspec.Struct):
    old_password: str = ""
    new_password: str = ""


class AvatarResponse(msgspec.Struct):
    thumbnail_url: str
