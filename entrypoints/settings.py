"""Typed settings read once from the `ASTRA_*` environment variables (contract §8)."""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Literal, TypeVar
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy.engine import make_url

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./astra.db"
# The async drivers Astra ships with; `postgres://` or `postgresql://` alone pick none.
DATABASE_DRIVERS = ("postgresql+asyncpg", "sqlite+aiosqlite")
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
MIN_SECRET_LENGTH = 32
DEFAULT_EMAIL_FROM = "Astra <no-reply@astra.local>"

_T = TypeVar("_T", bound=str)


class SettingsError(ValueError):
    """A setting is missing, malformed or unsafe for the chosen mode."""


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str = ""
    port: int = 587
    username: str = ""
    password: str = field(default="", repr=False)
    starttls: bool = True
    sender: str = DEFAULT_EMAIL_FROM


@dataclass(frozen=True, slots=True)
class StripeSettings:
    """`ASTRA_STRIPE_*`: the secret key, the webhook signing secret, and an API base for a
    Stripe-compatible server (tests); empty base = Stripe itself."""

    api_key: str = field(default="", repr=False)
    webhook_secret: str = field(default="", repr=False)
    api_base: str = ""


@dataclass(frozen=True, slots=True)
class OAuthProviderSettings:
    """`ASTRA_OAUTH_<PROVIDER>_*`: a registered OpenID Connect client at one issuer."""

    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    issuer: str = ""

    @property
    def configured(self) -> bool:
        return bool(self.client_id and self.issuer)


# Google's issuer is fixed; WATI's (any OIDC issuer) must be set with its client.
DEFAULT_OAUTH_ISSUERS = {"google": "https://accounts.google.com", "wati": ""}


@dataclass(frozen=True, slots=True)
class LlmSettings:
    backend: Literal["local", "openai"] = "local"
    base_url: str = ""
    api_key: str = field(default="", repr=False)
    model: str = ""
    connect_timeout: float = 5.0
    first_byte_timeout: float = 60.0
    idle_timeout: float = 30.0
    max_retries: int = 2


@dataclass(frozen=True, slots=True)
class Settings:
    env: Literal["development", "production"] = "development"
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str = ""
    jwt_secret: str = field(default="", repr=False)
    internal_api_keys: tuple[str, ...] = field(default=(), repr=False)
    public_url: str = DEFAULT_PUBLIC_URL
    frontend_url: str = ""
    oauth_post_callback_url: str = ""
    oauth: Mapping[str, OAuthProviderSettings] = field(default_factory=dict)
    # Keys sealing provider tokens at rest, newest first (older ones still open old data).
    encryption_keys: tuple[str, ...] = field(default=(), repr=False)
    data_dir: Path = Path("./var")
    smtp: SmtpSettings = SmtpSettings()
    payments: Literal["local", "stripe"] = "local"
    stripe: StripeSettings = StripeSettings()
    llm: LlmSettings = LlmSettings()
    trial_days: int = 14
    credits_per_message: int = 1
    chat_concurrency_per_user: int = 1
    chat_rate_per_tenant_per_minute: int = 600
    chat_history_messages: int = 20
    # One turn's bound; its credits stay held a margin longer, then recovery ends the turn.
    chat_max_turn_seconds: int = 300
    chat_turn_margin_seconds: int = 30
    # A concurrency slot's lease, renewed while its turn runs (a lost release frees in this).
    chat_slot_lease_seconds: int = 20
    # How often recovery looks for turns nobody runs any more (`astra worker`, SQLite serve).
    recovery_interval_seconds: float = 15.0
    # After SIGTERM: how long requests and streams in flight may go on before running chat
    # turns are ended; below Kubernetes' default 30 s termination grace period.
    shutdown_grace_seconds: float = 20.0
    # Seconds of model silence between SSE `event: ping` lines (contract §6; tests shorten it).
    chat_ping_seconds: float = 10.0
    max_body_bytes: int = 3 * 1024 * 1024
    database_pool_size: int = 10
    redis_prefix: str = "astra:"
    # One JSON access line per request (off where the load balancer already logs them).
    access_log: bool = True
    # Addresses whose X-Forwarded-For / X-Forwarded-Proto are believed (the load balancer);
    # empty: none, the client address is the TCP peer's.
    trusted_proxies: tuple[str, ...] = ()
    # Connections one process may open to Redis; a burst beyond waits up to the pool timeout.
    redis_max_connections: int = 200
    redis_pool_timeout_seconds: float = 5.0
    code_sends_per_ip_per_hour: int = 30
    login_attempts_per_ip_per_minute: int = 60
    # Before the same address may be invited into a tenant again.
    reinvite_cooldown_seconds: int = 600
    # argon2id cost; production keeps the library's recommended defaults.
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def effective_frontend_url(self) -> str:
        return (self.frontend_url or self.public_url).rstrip("/")

    @property
    def effective_oauth_post_callback_url(self) -> str:
        """The front-end page that receives `login_code` (or `error`) after a sign-in."""
        return self.oauth_post_callback_url or f"{self.effective_frontend_url}/auth/oauth/callback"

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def _flag(raw: str, name: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise SettingsError(f"{name} must be true or false")


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}")
    return value


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number of seconds") from None
    if not value > 0 or value == float("inf"):
        raise SettingsError(f"{name} must be a positive number of seconds")
    return value


def _choice(env: Mapping[str, str], name: str, allowed: tuple[_T, ...], default: _T) -> _T:
    raw = env.get(name, "").strip().lower() or default
    for option in allowed:
        if raw == option:
            return option
    raise SettingsError(f"{name} must be one of {', '.join(allowed)}")


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read settings from the environment and validate them."""
    source = os.environ if env is None else env
    get = source.get
    settings = Settings(
        env=_choice(source, "ASTRA_ENV", ("development", "production"), "development"),
        database_url=get("ASTRA_DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL,
        redis_url=get("ASTRA_REDIS_URL", "").strip(),
        jwt_secret=get("ASTRA_JWT_SECRET", ""),
        internal_api_keys=tuple(
            key.strip() for key in get("ASTRA_INTERNAL_API_KEYS", "").split(",") if key.strip()
        ),
        public_url=(get("ASTRA_PUBLIC_URL", "").strip() or DEFAULT_PUBLIC_URL).rstrip("/"),
        frontend_url=get("ASTRA_FRONTEND_URL", "").strip().rstrip("/"),
        oauth_post_callback_url=get("ASTRA_OAUTH_POST_CALLBACK_URL", "").strip(),
        oauth={
            provider: OAuthProviderSettings(
                client_id=get(f"ASTRA_OAUTH_{provider.upper()}_CLIENT_ID", "").strip(),
                client_secret=get(f"ASTRA_OAUTH_{provider.upper()}_CLIENT_SECRET", "").strip(),
                issuer=(
                    get(f"ASTRA_OAUTH_{provider.upper()}_ISSUER", "").strip() or default_issuer
                ).rstrip("/"),
            )
            for provider, default_issuer in DEFAULT_OAUTH_ISSUERS.items()
        },
        encryption_keys=tuple(
            key.strip() for key in get("ASTRA_ENCRYPTION_KEYS", "").split(",") if key.strip()
        ),
        data_dir=Path(get("ASTRA_DATA_DIR", "").strip() or "./var"),
        smtp=SmtpSettings(
            host=get("ASTRA_SMTP_HOST", "").strip(),
            port=_int(source, "ASTRA_SMTP_PORT", 587, minimum=1),
            username=get("ASTRA_SMTP_USERNAME", ""),
            password=get("ASTRA_SMTP_PASSWORD", ""),
            starttls=_flag(get("ASTRA_SMTP_STARTTLS", "true"), "ASTRA_SMTP_STARTTLS"),
            sender=get("ASTRA_EMAIL_FROM", "").strip() or DEFAULT_EMAIL_FROM,
        ),
        payments=_choice(source, "ASTRA_PAYMENTS", ("local", "stripe"), "local"),
        stripe=StripeSettings(
            api_key=get("ASTRA_STRIPE_API_KEY", "").strip(),
            webhook_secret=get("ASTRA_STRIPE_WEBHOOK_SECRET", "").strip(),
            api_base=get("ASTRA_STRIPE_API_BASE", "").strip().rstrip("/"),
        ),
        llm=LlmSettings(
            backend=_choice(source, "ASTRA_LLM_BACKEND", ("local", "openai"), "local"),
            base_url=get("ASTRA_LLM_BASE_URL", "").strip(),
            api_key=get("ASTRA_LLM_API_KEY", ""),
            model=get("ASTRA_LLM_MODEL", "").strip(),
            connect_timeout=_seconds(source, "ASTRA_LLM_CONNECT_TIMEOUT", 5.0),
            first_byte_timeout=_seconds(source, "ASTRA_LLM_FIRST_BYTE_TIMEOUT", 60.0),
            idle_timeout=_seconds(source, "ASTRA_LLM_IDLE_TIMEOUT", 30.0),
            max_retries=_int(source, "ASTRA_LLM_MAX_RETRIES", 2, minimum=0),
        ),
        trial_days=_int(source, "ASTRA_TRIAL_DAYS", 14, minimum=0),
        credits_per_message=_int(source, "ASTRA_CREDITS_PER_MESSAGE", 1, minimum=0),
        chat_concurrency_per_user=_int(source, "ASTRA_CHAT_CONCURRENCY_PER_USER", 1, minimum=1),
        chat_rate_per_tenant_per_minute=_int(
            source, "ASTRA_CHAT_RATE_PER_TENANT_PER_MINUTE", 600, minimum=1
        ),
        chat_history_messages=_int(source, "ASTRA_CHAT_HISTORY_MESSAGES", 20, minimum=0),
        chat_max_turn_seconds=_int(source, "ASTRA_CHAT_MAX_TURN_SECONDS", 300, minimum=1),
        chat_turn_margin_seconds=_int(source, "ASTRA_CHAT_TURN_MARGIN_SECONDS", 30, minimum=10),
        chat_slot_lease_seconds=_int(source, "ASTRA_CHAT_SLOT_LEASE_SECONDS", 20, minimum=2),
        recovery_interval_seconds=_seconds(source, "ASTRA_RECOVERY_INTERVAL_SECONDS", 15.0),
        shutdown_grace_seconds=_seconds(source, "ASTRA_SHUTDOWN_GRACE_SECONDS", 20.0),
        redis_prefix=get("ASTRA_REDIS_PREFIX", "").strip() or "astra:",
        access_log=_flag(get("ASTRA_ACCESS_LOG", "true"), "ASTRA_ACCESS_LOG"),
        trusted_proxies=tuple(
            proxy.strip() for proxy in get("ASTRA_TRUSTED_PROXIES", "").split(",") if proxy.strip()
        ),
        login_attempts_per_ip_per_minute=_int(
            source, "ASTRA_LOGIN_ATTEMPTS_PER_IP_PER_MINUTE", 60, minimum=1
        ),
        reinvite_cooldown_seconds=_int(source, "ASTRA_REINVITE_COOLDOWN_SECONDS", 600),
        redis_max_connections=_int(source, "ASTRA_REDIS_MAX_CONNECTIONS", 200, minimum=1),
        redis_pool_timeout_seconds=_seconds(source, "ASTRA_REDIS_POOL_TIMEOUT_SECONDS", 5.0),
    )
    validate(settings)
    return settings


def validate(settings: Settings) -> None:
    """Refuse settings that cannot work; production refuses default or short secrets."""
    try:
        driver = make_url(settings.database_url).drivername
    except Exception:
        raise SettingsError("ASTRA_DATABASE_URL is not a valid SQLAlchemy URL") from None
    if driver not in DATABASE_DRIVERS:
        # The scheme only: the rest of the URL may carry a password.
        raise SettingsError(
            f"ASTRA_DATABASE_URL must start with postgresql+asyncpg:// or "
            f"sqlite+aiosqlite:/// (it starts with {driver}://)"
        )
    if settings.redis_url and not settings.redis_url.startswith(("redis://", "rediss://")):
        raise SettingsError("ASTRA_REDIS_URL must start with redis:// or rediss://")
    if settings.jwt_secret and len(settings.jwt_secret) < MIN_SECRET_LENGTH:
        raise SettingsError(f"ASTRA_JWT_SECRET must be at least {MIN_SECRET_LENGTH} characters")
    for key in settings.internal_api_keys:
        if len(key) < MIN_SECRET_LENGTH:
            raise SettingsError(
                "each ASTRA_INTERNAL_API_KEYS entry must be at least "
                f"{MIN_SECRET_LENGTH} characters"
            )
    for key in settings.encryption_keys:
        if len(key) < MIN_SECRET_LENGTH:
            raise SettingsError(
                f"each ASTRA_ENCRYPTION_KEYS entry must be at least {MIN_SECRET_LENGTH} characters"
            )
    for provider, client in settings.oauth.items():
        _validate_oauth_client(provider, client)
    for proxy in settings.trusted_proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise SettingsError(
                f"ASTRA_TRUSTED_PROXIES: {proxy!r} is not an IP address or network"
            ) from None
    if settings.payments == "stripe" and not (
        settings.stripe.api_key and settings.stripe.webhook_secret
    ):
        raise SettingsError(
            "ASTRA_PAYMENTS=stripe needs ASTRA_STRIPE_API_KEY and ASTRA_STRIPE_WEBHOOK_SECRET"
        )
    if settings.stripe.api_base and not settings.stripe.api_base.startswith(
        ("http://", "https://")
    ):
        raise SettingsError("ASTRA_STRIPE_API_BASE must start with http:// or https://")
    if settings.llm.backend == "openai" and not settings.llm.base_url:
        raise SettingsError(
            "ASTRA_LLM_BACKEND=openai needs ASTRA_LLM_BASE_URL (e.g. http://127.0.0.1:8080/v1)"
        )
    if settings.llm.base_url and not settings.llm.base_url.startswith(("http://", "https://")):
        raise SettingsError("ASTRA_LLM_BASE_URL must start with http:// or https://")
    if settings.is_production:
        if not settings.jwt_secret:
            raise SettingsError("production mode needs ASTRA_JWT_SECRET (no generated default)")
        if settings.is_sqlite:
            raise SettingsError("production mode needs a PostgreSQL ASTRA_DATABASE_URL")
        if not settings.redis_url:
            raise SettingsError("production mode needs ASTRA_REDIS_URL")
        if not settings.encryption_keys:
            raise SettingsError(
                "production mode needs ASTRA_ENCRYPTION_KEYS (no generated default)"
            )


MASK = "******"


def describe_settings(settings: object, prefix: str = "") -> list[tuple[str, str]]:
    """Every effective setting as (dotted name, shown value), for `astra config`.

    A field declared with `repr=False` is a secret: shown as `******` when set, empty when
    not, never its value.
    """
    shown: list[tuple[str, str]] = []
    for spec in fields(settings):  # type: ignore[arg-type]
        name = f"{prefix}{spec.name}"
        value = getattr(settings, spec.name)
        if is_dataclass(value):
            shown += describe_settings(value, f"{name}.")
        elif isinstance(value, Mapping):
            for key in sorted(value):
                item = value[key]
                if is_dataclass(item):
                    shown += describe_settings(item, f"{name}.{key}.")
                else:
                    shown.append((f"{name}.{key}", str(item)))
        elif not spec.repr:
            shown.append((name, MASK if value else ""))
        elif isinstance(value, tuple):
            shown.append((name, ",".join(str(v) for v in value)))
        else:
            shown.append((name, _without_password(str(value))))
    return shown


def _without_password(value: str) -> str:
    """A URL's password masked (database and Redis URLs may carry one)."""
    if "://" not in value or "@" not in value:
        return value
    parts = urlsplit(value)
    if not parts.password:
        return value
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:{MASK}@{host}"))


def _validate_oauth_client(provider: str, client: OAuthProviderSettings) -> None:
    prefix = f"ASTRA_OAUTH_{provider.upper()}"
    if client.client_id and not client.client_secret:
        raise SettingsError(f"{prefix}_CLIENT_ID needs {prefix}_CLIENT_SECRET")
    if client.client_id and not client.issuer:
        raise SettingsError(f"{prefix}_CLIENT_ID needs {prefix}_ISSUER")
    if client.issuer and not client.issuer.startswith(("http://", "https://")):
        raise SettingsError(f"{prefix}_ISSUER must start with http:// or https://")


def resolve_jwt_secret(settings: Settings) -> str:
    """The configured secret, or one generated once per data directory (development only)."""
    if settings.jwt_secret:
        return settings.jwt_secret
    if settings.is_production:
        raise SettingsError("production mode needs ASTRA_JWT_SECRET")
    return _generated_secret(settings.data_dir / "jwt-secret")


def resolve_encryption_keys(settings: Settings) -> tuple[str, ...]:
    """The configured keys, or one generated once per data directory (development only)."""
    if settings.encryption_keys:
        return settings.encryption_keys
    if settings.is_production:
        raise SettingsError("production mode needs ASTRA_ENCRYPTION_KEYS")
    return (_generated_secret(settings.data_dir / "encryption-key"),)


def _generated_secret(path: Path) -> str:
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    # Create with owner-only permissions; another process may win the race, so re-read.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secret)
    return secret


def require_stripe(settings: Settings) -> Settings:
    """Settings for a Stripe command: the key is needed even when payments are local."""
    if not settings.stripe.api_key:
        raise SettingsError("this command needs ASTRA_STRIPE_API_KEY")
    return settings
