"""Identity and user endpoints (contract §3): thin translation to the use cases."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, delete, get, post, put
from litestar.datastructures import UploadFile
from litestar.di import Provide
from litestar.enums import RequestEncodingType
from litestar.params import Body, JSONBody

from application.identity.commands import (
    DeleteUserCommand,
    ForgotPasswordCommand,
    InitializeUserCommand,
    LoginCommand,
    LogoutCommand,
    RefreshTokenCommand,
    ResetPasswordCommand,
    StartRegistrationCommand,
    UpdateAvatarCommand,
    UpdateNameCommand,
    UpdatePasswordCommand,
    VerifyPasswordResetCommand,
    VerifyRegistrationCommand,
)
from domain.errors import InvalidArgument
from entrypoints.http.conventions import EmptyResponse, timestamp
from entrypoints.http.dependencies import Deps, PrincipalDep, client_ip, provide_principal
from entrypoints.http.identity.schemas import (
    AvatarResponse,
    ForgotPasswordRequest,
    ForgotPasswordResetRequest,
    ForgotPasswordVerifyRequest,
    ForgotPasswordVerifyResponse,
    LoginRequest,
    RegisterRequest,
    RegisterResponse,
    RegisterVerifyRequest,
    TokenRefreshRequest,
    TokenRefreshResponse,
    TokenResponse,
    TokenWithInitResponse,
    UserBody,
    UserGetResponse,
    UserInitialRequest,
    UserUpdateNameRequest,
    UserUpdatePasswordRequest,
)

AVATAR_MAX_BYTES = 2 * 1024 * 1024
# Multipart framing around a 2 MiB file; the use case enforces the exact file limit.
AVATAR_BODY_LIMIT = AVATAR_MAX_BYTES + 64 * 1024

AUTH = {"principal": Provide(provide_principal)}


class AuthController(Controller):
    path = "/account/v1/auth"
    tags = ["AccountService"]

    @post("/register", operation_id="Register", status_code=200)
    async def register(
        self,
        data: JSONBody[RegisterRequest],
        container: Deps,
        request: Request[Any, Any, Any],
    ) -> RegisterResponse:
        result = await container.identity.start_registration(
            StartRegistrationCommand(email=data.email, client_ip=client_ip(request))
        )
        return RegisterResponse(redirect_url=result.redirect_url, token=result.token)

    @post("/register/verify", operation_id="RegisterVerify", status_code=200)
    async def register_verify(
        self,
        data: JSONBody[RegisterVerifyRequest],
        container: Deps,
        request: Request[Any, Any, Any],
    ) -> TokenWithInitResponse:
        result = await container.identity.verify_registration(
            VerifyRegistrationCommand(
                email=data.email,
                code=data.code,
                token=data.token,
                client_ip=client_ip(request),
                from_link=data.from_link,
                country=data.country,
            )
        )
        return TokenWithInitResponse(token=result.token, is_initialized=result.is_initialized)

    @post("/login", operation_id="Login", status_code=200)
    async def login(
        self,
        data: JSONBody[LoginRequest],
        container: Deps,
        request: Request[Any, Any, Any],
    ) -> TokenResponse:
        result = await container.identity.login(
            LoginCommand(email=data.email, password=data.password, client_ip=client_ip(request))
        )
        return TokenResponse(token=result.token)

    @post("/logout", operation_id="Logout", status_code=200, dependencies=AUTH)
    async def logout(self, container: Deps, principal: PrincipalDep) -> EmptyResponse:
        await container.identity.logout(LogoutCommand(session_id=principal.session_id))
        return EmptyResponse()

    @post("/token/refresh", operation_id="TokenRefresh", status_code=200)
    async def token_refresh(
        self, data: JSONBody[TokenRefreshRequest], container: Deps
    ) -> TokenRefreshResponse:
        token = await container.identity.refresh_token(RefreshTokenCommand(token=data.token))
        return TokenRefreshResponse(new_token=token)

    @post("/password/forgot", operation_id="ForgotPassword", status_code=200)
    async def forgot_password(
        self,
        data: JSONBody[ForgotPasswordRequest],
        container: Deps,
        request: Request[Any, Any, Any],
    ) -> TokenResponse:
        result = await container.identity.start_password_reset(
            ForgotPasswordCommand(email=data.email, client_ip=client_ip(request))
        )
        return TokenResponse(token=result.token)

    @post("/password/forgot/verify", operation_id="ForgotPasswordVerify", status_code=200)
    async def forgot_password_verify(
        self, data: JSONBody[ForgotPasswordVerifyRequest], container: Deps
    ) -> ForgotPasswordVerifyResponse:
        result = await container.identity.verify_password_reset(
            VerifyPasswordResetCommand(email=data.email, code=data.code, token=data.token)
        )
        return ForgotPasswordVerifyResponse(
            redirect_url=result.redirect_url,
            is_valid=result.is_valid,
            email=result.email,
            new_token=result.new_token,
        )

    @post("/password/reset", operation_id="ForgotPasswordReset", status_code=200)
    async def forgot_password_reset(
        self, data: JSONBody[ForgotPasswordResetRequest], container: Deps
    ) -> EmptyResponse:
        await container.identity.reset_password(
            ResetPasswordCommand(
                token=data.token,
                new_password=data.new_password,
                password_confirm=data.password_confirm,
            )
        )
        return EmptyResponse()


class UserController(Controller):
    path = "/account/v1/user"
    tags = ["AccountService"]
    dependencies = AUTH

    @post("/initial", operation_id="UserInitial", status_code=200)
    async def user_initial(
        self,
        data: JSONBody[UserInitialRequest],
        container: Deps,
        principal: PrincipalDep,
    ) -> TokenResponse:
        result = await container.identity.initialize_user(
            InitializeUserCommand(
                user_id=principal.user_id,
                session_id=principal.session_id,
                password=data.password,
                timezone=data.timezone,
            )
        )
        return TokenResponse(token=result.token)

    @get("", operation_id="UserGet")
    async def user_get(self, container: Deps, principal: PrincipalDep) -> UserGetResponse:
        user = await container.identity.get_user(principal.user_id)
        return UserGetResponse(
            user=UserBody(
                id=user.id,
                email=user.email,
                name=user.name,
                avatar_url=user.avatar_url,
                timezone=user.timezone,
                is_initialized=user.is_initialized,
                email_verified=user.email_verified,
                current_tenant_id=user.current_tenant_id,
                auth_providers=user.auth_providers,
                created_at=timestamp(user.created_at),
                updated_at=timestamp(user.updated_at),
            )
        )

    @delete("", operation_id="UserDelete", status_code=200)
    async def user_delete(self, container: Deps, principal: PrincipalDep) -> EmptyResponse:
        await container.identity.delete_user(DeleteUserCommand(user_id=principal.user_id))
        return EmptyResponse()

    @post(
        "/avatar",
        operation_id="UserUpdateAvatar",
        status_code=200,
        request_max_body_size=AVATAR_BODY_LIMIT,
    )
    async def user_update_avatar(
        self,
        data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)],
        container: Deps,
        principal: PrincipalDep,
    ) -> AvatarResponse:
        upload = data.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidArgument("file", "is required (multipart/form-data field `file`)")
        content = await upload.read()
        url = await container.identity.update_avatar(
            UpdateAvatarCommand(
                user_id=principal.user_id,
                data=content,
                filename=upload.filename or "",
                content_type=upload.content_type or "",
            )
        )
        return AvatarResponse(thumbnail_url=url)

    @put("/name", operation_id="UserUpdateName", status_code=200)
    async def user_update_name(
        self,
        data: JSONBody[UserUpdateNameRequest],
        container: Deps,
        principal: PrincipalDep,
    ) -> EmptyResponse:
        await container.identity.update_name(
            UpdateNameCommand(user_id=principal.user_id, name=data.name)
        )
        return EmptyResponse()

    @put("/password", operation_id="UserUpdatePassword", status_code=200)
    async def user_update_password(
        self,
        data: JSONBody[UserUpdatePasswordRequest],
        container: Deps,
        principal: PrincipalDep,
    ) -> EmptyResponse:
        await container.identity.update_password(
            UpdatePasswordCommand(
                user_id=principal.user_id,
                session_id=principal.session_id,
                old_password=data.old_password,
                new_password=data.new_password,
            )
        )
        return EmptyResponse()
