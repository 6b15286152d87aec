"""Who is calling: the three credential kinds of contract §1.2, after authentication."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain.tenancy.policy import Scope


class CredentialKind(StrEnum):
    TOKEN = "TOKEN"
    API_KEY = "API_KEY"
    INTERNAL = "INTERNAL"


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated credential.

    - TOKEN: `user_id` and `session_id`; the tenant and role come from the user's current
      tenant, looked up per request (so a removed member loses access at once).
    - API_KEY: `tenant_id`, `scopes` and `api_key_id`; never acts on another tenant.
    - INTERNAL: an operator or internal service; only `/…/internal/v1/…` endpoints accept it.
    """

    kind: CredentialKind
    user_id: str = ""
    session_id: str = ""
    tenant_id: str = ""
    scopes: frozenset[Scope] = frozenset()
    api_key_id: str = ""

    @classmethod
    def token(cls, user_id: str, session_id: str) -> Caller:
        return cls(CredentialKind.TOKEN, user_id=user_id, session_id=session_id)

    @classmethod
    def api_key(cls, tenant_id: str, key_id: str, scopes: frozenset[Scope]) -> Caller:
        return cls(CredentialKind.API_KEY, tenant_id=tenant_id, api_key_id=key_id, scopes=scopes)

    @classmethod
    def internal(cls) -> Caller:
        return cls(CredentialKind.INTERNAL)
