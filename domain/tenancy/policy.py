"""Who may do what in a tenant (contract §7): one pure table for roles and API-key scopes."""

from __future__ import annotations

from enum import StrEnum

from domain.errors import InvalidArgument, PermissionDenied
from domain.tenancy.models import Role


class Action(StrEnum):
    READ_TENANT = "read_tenant"  # tenant, members
    READ_AGENTS = "read_agents"
    WRITE_AGENTS = "write_agents"  # agents, config, intentions
    READ_LEADS = "read_leads"
    DELETE_LEADS = "delete_leads"
    READ_USAGE = "read_usage"
    RENAME_TENANT = "rename_tenant"
    INVITE_MEMBERS = "invite_members"
    MANAGE_MEMBERS = "manage_members"  # remove / change role of normal and admin members
    MANAGE_OWNERS = "manage_owners"  # make someone owner, remove or demote an owner
    MANAGE_BILLING = "manage_billing"  # subscriptions, add-ons, portal
    MANAGE_API_KEYS = "manage_api_keys"
    CHAT = "chat"
    READ_WATI_LINK = "read_wati_link"  # the tenant's WATI account and its long-lived token


class Scope(StrEnum):
    CHAT_WRITE = "chat:write"
    AGENTS_READ = "agents:read"
    AGENTS_WRITE = "agents:write"
    LEADS_READ = "leads:read"
    USAGE_READ = "usage:read"


_ALL = frozenset(Action)
_ADMIN = _ALL - {Action.MANAGE_OWNERS, Action.MANAGE_BILLING}
_NORMAL = frozenset(
    {Action.READ_TENANT, Action.READ_AGENTS, Action.READ_LEADS, Action.READ_USAGE, Action.CHAT}
)
ROLE_ACTIONS: dict[Role, frozenset[Action]] = {
    Role.OWNER: _ALL,
    Role.ADMIN: _ADMIN,
    Role.NORMAL: _NORMAL,
}

# An API key acts for its tenant's integration: never on members, billing or other keys.
SCOPE_ACTIONS: dict[Scope, frozenset[Action]] = {
    Scope.CHAT_WRITE: frozenset({Action.CHAT}),
    Scope.AGENTS_READ: frozenset({Action.READ_AGENTS}),
    Scope.AGENTS_WRITE: frozenset({Action.READ_AGENTS, Action.WRITE_AGENTS, Action.DELETE_LEADS}),
    Scope.LEADS_READ: frozenset({Action.READ_LEADS}),
    Scope.USAGE_READ: frozenset({Action.READ_USAGE}),
}

# What some scope can grant. Any other action needs a person: an API key there is the wrong
# kind of credential (`16`, contract §1.2), not one lacking a scope (`7`).
API_KEY_ACTIONS: frozenset[Action] = frozenset().union(*SCOPE_ACTIONS.values())


def role_allows(role: Role, action: Action) -> bool:
    return action in ROLE_ACTIONS[role]


def scopes_allow(scopes: frozenset[Scope], action: Action) -> bool:
    return any(action in SCOPE_ACTIONS[scope] for scope in scopes)


def require_role(role: Role, action: Action) -> None:
    if not role_allows(role, action):
        raise PermissionDenied(f"your role ({role.value}) may not {action.value.replace('_', ' ')}")


def parse_role(raw: str, field: str = "role") -> Role:
    try:
        return Role(raw.strip().lower())
    except ValueError:
        raise InvalidArgument(field, "must be one of owner, admin, normal") from None


def parse_scopes(raw: list[str], field: str = "scopes") -> frozenset[Scope]:
    scopes: set[Scope] = set()
    for item in raw:
        try:
            scopes.add(Scope(item.strip()))
        except ValueError:
            allowed = ", ".join(scope.value for scope in Scope)
            raise InvalidArgument(field, f"unknown scope {item!r}; allowed: {allowed}") from None
    if not scopes:
        raise InvalidArgument(field, "must name at least one scope")
    return frozenset(scopes)


def check_member_change(actor: Role, target_current: Role, target_new: Role | None) -> None:
    """May `actor` remove (`target_new=None`) or re-role a member who is `target_current`?

    Admins manage `normal` and `admin` members but never owners, and never make owners; only
    owners make or remove owners. (Keeping one owner is checked where the members are known.)
    """
    touches_owner = target_current is Role.OWNER or target_new is Role.OWNER
    if touches_owner:
        require_role(actor, Action.MANAGE_OWNERS)
    else:
        require_role(actor, Action.MANAGE_MEMBERS)
