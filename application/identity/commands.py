"""Inputs and outputs of the identity use cases."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class IdentityPolicy:
    """Tunables of the identity rules, filled from settings by the composition root."""

    frontend_url: str
    code_sends_per_minute_per_email: int = 1
    code_sends_per_hour_per_email: int = 5
    code_sends_per_hour_per_ip: int = 30
    login_failures_per_window: int = 10
    # Every sign-in attempt from one address, before any password work: one client cannot
    # keep the hashing pool busy with made-up emails.
    login_attempts_per_minute_per_ip: int = 60
    login_failure_window_seconds: int = 15 * 60


@dataclass(frozen=True, slots=True)
class StartRegistrationCommand:
    email: str
    client_ip: str


@dataclass(frozen=True, slots=True)
class RegistrationStarted:
    token: str
    redirect_url: str


@dataclass(frozen=True, slots=True)
class VerifyRegistrationCommand:
    email: str
    code: str
    token: str
    client_ip: str
    from_link: str = ""
    country: str = ""


@dataclass(frozen=True, slots=True)
class SignedIn:
    token: str
    is_initialized: bool


@dataclass(frozen=True, slots=True)
class InitializeUserCommand:
    user_id: str
    session_id: str
    password: str
    timezone: str


@dataclass(frozen=True, slots=True)
class LoginCommand:
    email: str
    password: str
    client_ip: str


@dataclass(frozen=True, slots=True)
class LogoutCommand:
    session_id: str


@dataclass(frozen=True, slots=True)
class RefreshTokenCommand:
    token: str


@dataclass(frozen=True, slots=True)
class ForgotPasswordCommand:
    email: str
    client_ip: str


@dataclass(frozen=True, slots=True)
class ForgotPasswordStarted:
    token: str


@dataclass(frozen=True, slots=True)
class VerifyPasswordResetCommand:
    email: str
    code: str
    token: str


@dataclass(frozen=True, slots=True)
class PasswordResetVerified:
    is_valid: bool
    email: str
    new_token: str
    redirect_url: str


@dataclass(frozen=True, slots=True)
class ResetPasswordCommand:
    token: str
    new_password: str
    password_confirm: str


@dataclass(frozen=True, slots=True)
class UpdateNameCommand:
    user_id: str
    name: str


@dataclass(frozen=True, slots=True)
class UpdatePasswordCommand:
    user_id: str
    session_id: str
    old_password: str
    new_password: str


@dataclass(frozen=True, slots=True)
class UpdateAvatarCommand:
    user_id: str
    data: bytes
    filename: str = ""
    content_type: str = ""


@dataclass(frozen=True, slots=True)
class DeleteUserCommand:
    user_id: str


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, as proven by a live access token."""

    user_id: str
    session_id: str
