"""Invitations by email: invite, check the link, accept it (joining or creating an account)."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlencode

from application.common.ports import (
    Clock,
    IdGenerator,
    OutgoingEmail,
    RateLimiter,
    SecretGenerator,
    SecretHasher,
    UnitOfWork,
    UnitOfWorkFactory,
)
from application.identity._support import open_session, page_url
from application.identity.ports import PasswordHasher, TokenIssuer
from application.tenancy.access import authorize
from application.tenancy.commands import (
    MAX_INVITES_PER_CALL,
    AcceptInvitationCommand,
    InvitationInfo,
    Invitee,
    InviteMembersCommand,
    InviteResult,
    InviteStatus,
    TenancyPolicy,
)
from domain.errors import (
    AlreadyExists,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
)
from domain.identity.models import User
from domain.identity.rules import check_password, default_name_for, normalize_email
from domain.tenancy.models import INVITATION_LIFETIME, Invitation, Membership, Role, Tenant
from domain.tenancy.policy import Action, parse_role, role_allows

INVALID_TOKEN = "is invalid or expired"
BAD_CREDENTIALS = "invalid email or password"


def invitation_email(to: str, tenant: Tenant, role: Role, url: str) -> OutgoingEmail:
    days = INVITATION_LIFETIME.days
    text = (
        f"Hello,\n\nYou have been invited to join {tenant.name} on Astra as {role.value}.\n\n"
        f"Accept the invitation here:\n{url}\n\nThe link works once and expires in {days} days.\n"
        "If you did not expect this invitation, you can ignore this email.\n\nThe Astra team\n"
    )
    return OutgoingEmail(
        to=to, subject=f"You are invited to join {tenant.name} on Astra", text=text
    )


class InviteMembers:
    """Invite people by email into a tenant; one result per email, in the order given.

    - Owners and admins of the caller's current tenant, or an internal caller naming the tenant.
    - At most 50 emails per call (else `InvalidArgument`); an empty list is refused too.
    - An invalid email or role → `failed` with the reason; an admin inviting an owner → `failed`.
    - An existing member, or an email listed twice → `duplicate`.
    - A pending invitation of the same email is revoked: only the newest link works. The same
      address may be invited again only after a cooldown (10 minutes), else `failed`.
    - Each tenant sends at most 100 invitations an hour and 300 a day (all replicas
      together); beyond, each further email is `failed` and nothing is sent.
    - The token has ≥ 128 random bits, only its hash is stored, and it lives 7 days. The email
      with `{frontend_url}/invite?invite_token=…` is queued in the same transaction.
    """

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        secrets: SecretGenerator,
        secret_hasher: SecretHasher,
        ids: IdGenerator,
        clock: Clock,
        policy: TenancyPolicy,
        limiter: RateLimiter,
    ) -> None:
        self._uow = uow_factory
        self._secrets = secrets
        self._secret_hasher = secret_hasher
        self._ids = ids
        self._clock = clock
        self._policy = policy
        self._limiter = limiter

    async def __call__(self, command: InviteMembersCommand) -> list[InviteResult]:
        if not command.invitees:
            raise InvalidArgument(command.field, "must list at least one email")
        if len(command.invitees) > MAX_INVITES_PER_CALL:
            raise InvalidArgument(command.field, f"at most {MAX_INVITES_PER_CALL} per call")
        now = self._clock.now()
        async with self._uow() as uow:
            access = await authorize(uow, command.caller, Action.INVITE_MEMBERS, command.tenant_id)
            tenant = await uow.tenants.get(access.tenant_id)
            if tenant is None:
                raise NotFound("the tenant does not exist")
            seen: set[str] = set()
            results = [
                await self._invite(
                    uow, tenant, access.role, command.caller.user_id, item, seen, now
                )
                for item in command.invitees
            ]
            await uow.commit()
        return results

    async def _invite(
        self,
        uow: UnitOfWork,
        tenant: Tenant,
        actor: Role | None,
        inviter_id: str,
        invitee: Invitee,
        seen: set[str],
        now: datetime,
    ) -> InviteResult:
        try:
            email = normalize_email(invitee.email)
            role = parse_role(invitee.role or Role.NORMAL.value)
        except InvalidArgument as error:
            return InviteResult(invitee.email, InviteStatus.FAILED, error.message)
        # `actor` is None for internal callers, who may invite with any role.
        if (
            role == Role.OWNER
            and actor is not None
            and not role_allows(actor, Action.MANAGE_OWNERS)
        ):
            return InviteResult(email, InviteStatus.FAILED, "only owners may invite owners")
        if email in seen:
            return InviteResult(email, InviteStatus.DUPLICATE, "listed more than once")
        seen.add(email)
        user = await uow.users.get_by_email(email)
        if user is not None and await uow.memberships.get(tenant.id, user.id) is not None:
            return InviteResult(email, InviteStatus.DUPLICATE, "already a member of this tenant")
        pending = await uow.invitations.list_pending_for_email(tenant.id, email)
        cooldown = timedelta(seconds=self._policy.reinvite_cooldown_seconds)
        if any(now - previous.created_at < cooldown for previous in pending):
            return InviteResult(email, InviteStatus.FAILED, "invited moments ago; try again later")
        if not await self._within_sending_limits(tenant.id):
            return InviteResult(
                email, InviteStatus.FAILED, "the tenant's invitation limit is reached for now"
            )
        for previous in pending:
            previous.revoke(now)
            await uow.invitations.update(previous)
        token = self._secrets.token()
        await uow.invitations.add(
            Invitation(
                id=self._ids.new_id(),
                tenant_id=tenant.id,
                email=email,
                role=role,
                token_hash=self._secret_hasher.hash(token),
                invited_by=inviter_id,
                created_at=now,
                expires_at=now + INVITATION_LIFETIME,
            )
        )
        url = page_url(self._policy.frontend_url, "/invite", urlencode({"invite_token": token}))
        await uow.outbox.add(invitation_email(email, tenant, role, url))
        return InviteResult(email, InviteStatus.SUCCESS, "", url)

    async def _within_sending_limits(self, tenant_id: str) -> bool:
        policy = self._policy
        hourly = await self._limiter.hit(
            f"invites:hour:{tenant_id}", policy.invitations_per_tenant_per_hour, 3600
        )
        if not hourly.allowed:
            return False
        daily = await self._limiter.hit(
            f"invites:day:{tenant_id}", policy.invitations_per_tenant_per_day, 86400
        )
        return daily.allowed


async def _pending_invitation(
    uow: UnitOfWork, hasher: SecretHasher, token: str, now: datetime
) -> Invitation:
    invitation = await uow.invitations.get_by_token_hash(hasher.hash(token)) if token else None
    if invitation is None or not invitation.is_pending(now):
        raise InvalidArgument("invite_token", INVALID_TOKEN)
    return invitation


class CheckInvitation:
    """Tell the invite page which email and tenant a link is for (no credential needed).

    - An unknown, expired, revoked or already used token → `invite_token` is invalid.
    """

    def __init__(
        self, uow_factory: UnitOfWorkFactory, secret_hasher: SecretHasher, clock: Clock
    ) -> None:
        self._uow = uow_factory
        self._secret_hasher = secret_hasher
        self._clock = clock

    async def __call__(self, invite_token: str) -> InvitationInfo:
        async with self._uow() as uow:
            invitation = await _pending_invitation(
                uow, self._secret_hasher, invite_token.strip(), self._clock.now()
            )
        return InvitationInfo(email=invitation.email, tenant_id=invitation.tenant_id)


class AcceptInvitation:
    """Join the inviting tenant through the emailed link, and sign in.

    - The token must be pending (else `invite_token` is invalid); it works once.
    - `tenant_id`, when given, and `email` must be the invitation's, else `PermissionDenied`.
    - A new email creates the account with the given password (policy applies); the email
      counts as verified and the account as initialised.
    - An existing account must give its correct password (`Unauthenticated`); repeated wrong
      passwords lock the invitation for a while (`ResourceExhausted`). Already a member →
      `AlreadyExists`.
    - The membership gets the invited role, the tenant becomes the current one, and a new
      session's access token is returned.
    """

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        secret_hasher: SecretHasher,
        passwords: PasswordHasher,
        tokens: TokenIssuer,
        limiter: RateLimiter,
        ids: IdGenerator,
        clock: Clock,
        policy: TenancyPolicy,
    ) -> None:
        self._uow = uow_factory
        self._secret_hasher = secret_hasher
        self._passwords = passwords
        self._tokens = tokens
        self._limiter = limiter
        self._ids = ids
        self._clock = clock
        self._policy = policy

    async def __call__(self, command: AcceptInvitationCommand) -> str:
        now = self._clock.now()
        async with self._uow() as uow:
            invitation = await _pending_invitation(
                uow, self._secret_hasher, command.invite_token.strip(), now
            )
            tenant_id = command.tenant_id.strip()
            if tenant_id and tenant_id != invitation.tenant_id:
                raise PermissionDenied("this invitation is for another tenant")
            if normalize_email(command.email) != invitation.email:
                raise PermissionDenied("this invitation is for another email address")
            user = await uow.users.get_by_email(invitation.email)
            if user is not None:
                await self._check_password(user, invitation, command.password)
            # The first write: of many concurrent accepts of one link exactly one gets past it.
            if not await uow.invitations.accept(invitation.id, now):
                raise InvalidArgument("invite_token", INVALID_TOKEN)
            if user is None:
                user = await self._new_user(invitation.email, command.password, now)
                user.current_tenant_id = invitation.tenant_id
                await uow.users.add(user)
            else:
                if await uow.memberships.get(invitation.tenant_id, user.id) is not None:
                    raise AlreadyExists("already a member of this tenant")
                user.current_tenant_id = invitation.tenant_id
                user.email_verified = True  # the link proved the mailbox
                user.updated_at = now
                await uow.users.update(user)
            await uow.memberships.add(
                Membership(invitation.tenant_id, user.id, invitation.role, now)
            )
            session = await open_session(uow, self._ids, user.id, now)
            await uow.commit()
        return self._tokens.issue(user.id, session.id)

    async def _new_user(self, email: str, password: str, now: datetime) -> User:
        check_password(password, email)
        user = User(
            id=self._ids.new_id(),
            email=email,
            name=default_name_for(email),
            created_at=now,
            updated_at=now,
            email_verified=True,
            is_initialized=True,
        )
        user.set_password(await self._passwords.hash(password), now)
        return user

    async def _check_password(self, user: User, invitation: Invitation, password: str) -> None:
        key = f"invite-accept:{invitation.id}"
        limit = self._policy.accept_failures_per_window
        window = self._policy.accept_failure_window_seconds
        lock = await self._limiter.peek(key, limit, window)
        if not lock.allowed:
            raise ResourceExhausted(
                "too many failed attempts; try again later", retry_after=max(1, lock.retry_after)
            )
        if user.password_hash is None or not await self._passwords.verify(
            user.password_hash, password
        ):
            await self._limiter.hit(key, limit, window)
            raise Unauthenticated(BAD_CREDENTIALS)
