"""Gatekeep settings: every knob comes from the environment, with embedded defaults.

Unset DATABASE_URL means a local SQLite file; unset REDIS_URL means an in-process
cache and eager Celery, so the gateway runs with no other server.
"""

import ipaddress
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def envstr(name: str, default: str = "") -> str:
    """Read NAME, or the contents of the file named by NAME_FILE (Docker/K8s secrets)."""
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        return Path(file_name).read_text().strip()
    return os.environ.get(name, default)


def envbool(name: str, default: bool) -> bool:
    raw = envstr(name, "")
    if raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def envint(name: str, default: int) -> int:
    raw = envstr(name, "")
    if raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {raw!r}") from None


def envlist(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in envstr(name, default).split(",") if item.strip()]


DEBUG = envbool("DEBUG", False)
# The development fallback key is only acceptable on a developer's machine;
# the system check gateway_admin.E001 refuses it when DEBUG is off.
INSECURE_DEV_SECRET_KEY = "dev-insecure-gatekeep-secret-key-change-me-0123456789"
SECRET_KEY = envstr("SECRET_KEY", INSECURE_DEV_SECRET_KEY)
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "oauth2_provider",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served locally: /api/v1/docs/ works offline
    # Ground floor first; each app imports only the apps listed above it.
    "core",
    "accounts",
    "authservers",
    "apis",
    "applications",
    "traffic",
    "analytics",
    "proxy",
    "issuer",
    "configfile",
    "rest_api",
    "console",
    "admin_site",
    "demo",
    "gateway_admin",
]

MIDDLEWARE = [
    # First: picks the plane's URLconf and renames the public plane's cookies before
    # the session and CSRF middleware read them (gateway_admin/planes.py).
    "gateway_admin.planes.PlaneMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "gateway_admin.middleware.ContentSecurityPolicyMiddleware",
    # Serves the console's and admin's static files under any WSGI server, no nginx needed.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "gateway_admin.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "gateway_admin.wsgi.application"

# DATABASE_URL=none: a data-plane-only node (manage.py serve --plane public) with no
# database credentials at all. It serves the compiled snapshots the control plane
# publishes in Redis (docs/operations.md, "Data-plane nodes without a database").
GATEWAY_HAS_DATABASE = envstr("DATABASE_URL", "").strip().lower() != "none"
if GATEWAY_HAS_DATABASE:
    DATABASES = {
        "default": dj_database_url.parse(
            envstr("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
            conn_max_age=envint("DATABASE_CONN_MAX_AGE", 60),
            conn_health_checks=True,
        )
    }
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.dummy"}}  # any query raises
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Tests start real servers in other threads and processes: a file-backed
    # test database is visible to all of them, an in-memory one is not.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "test-db.sqlite3")}
    # IMMEDIATE: a transaction that reads then writes (token rotation, key rotation)
    # waits for the write lock instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}

REDIS_URL = envstr("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": envstr("CACHE_KEY_PREFIX", "gatekeep"),
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Without `collectstatic`, WhiteNoise finds files in the apps' static folders directly.
WHITENOISE_USE_FINDERS = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "console:login"
LOGIN_REDIRECT_URL = "console:dashboard"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
    # The proxy maps upstream failures to 502/504 itself; urllib3's retry chatter is noise.
    "loggers": {"urllib3": {"level": "ERROR"}},
}

# --- Celery -----------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
# Without a broker the tasks run inline, so the embedded default needs no worker.
CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_TASK_ALWAYS_EAGER", not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BEAT_TICK_SECONDS = envint("CELERY_BEAT_TICK_SECONDS", 30)

# --- REST framework ---------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Gatekeep admin API",
    "DESCRIPTION": "Automation contract for the Gatekeep API gateway.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Two models have a `status` field with different choices: name their enums.
    "ENUM_NAME_OVERRIDES": {
        "ApiStatusEnum": "apis.choices.ApiStatus",
        "ApplicationStatusEnum": "applications.choices.ApplicationStatus",
    },
}

# --- Gateway ----------------------------------------------------------------
GATEWAY_PREFIX = "/" + envstr("GATEWAY_PREFIX", "/gateway").strip("/")
if GATEWAY_PREFIX == "/":
    raise ImproperlyConfigured("GATEWAY_PREFIX must not be empty or '/'")
# Plain-http issuers are only acceptable on loopback unless this dev flag is set.
GATEWAY_ALLOW_HTTP_ISSUERS = envbool("GATEWAY_ALLOW_HTTP_ISSUERS", False)
# Client addresses whose X-Forwarded-* headers are believed (load balancers).
GATEWAY_TRUSTED_PROXIES = envlist("GATEWAY_TRUSTED_PROXIES")
GATEWAY_MAX_TOKEN_BYTES = envint("GATEWAY_MAX_TOKEN_BYTES", 8192)
# How often a worker looks for a new config version or key set in the shared cache.
GATEWAY_CONFIG_POLL_SECONDS = float(envstr("GATEWAY_CONFIG_POLL_SECONDS", "0.5"))
# Data-plane workers subscribe to the config announcements (Redis pub/sub); false leaves
# them to the poll alone (bench/convergence measures both).
GATEWAY_CONFIG_ANNOUNCEMENTS = envbool("GATEWAY_CONFIG_ANNOUNCEMENTS", True)
GATEWAY_KEYS_POLL_SECONDS = float(envstr("GATEWAY_KEYS_POLL_SECONDS", "5"))
# On-demand JWKS refreshes (unknown kid) per server are at most this frequent.
GATEWAY_KID_REFRESH_INTERVAL = float(envstr("GATEWAY_KID_REFRESH_INTERVAL", "30"))
GATEWAY_VERIFIED_TOKEN_CACHE_SIZE = envint("GATEWAY_VERIFIED_TOKEN_CACHE_SIZE", 20000)
GATEWAY_UPSTREAM_POOL_SIZE = envint("GATEWAY_UPSTREAM_POOL_SIZE", 32)
# Traffic limits (traffic/, proxy/rate_limits.py; docs/operations.md, Traffic limits): the
# processes that share a limit when each counts alone (no Redis, or Redis down and failing
# open), how long a Redis call may take, and how long an unreachable Redis is left alone.
GATEWAY_RATE_LIMIT_PROCESSES = envint(
    "GATEWAY_RATE_LIMIT_PROCESSES", envint("GATEWAY_PUBLIC_WORKERS", os.cpu_count() or 1)
)
if GATEWAY_RATE_LIMIT_PROCESSES < 1:
    raise ImproperlyConfigured("GATEWAY_RATE_LIMIT_PROCESSES must be at least 1")
GATEWAY_RATE_LIMIT_REDIS_TIMEOUT = float(envstr("GATEWAY_RATE_LIMIT_REDIS_TIMEOUT", "0.25"))
GATEWAY_RATE_LIMIT_RETRY_SECONDS = float(envstr("GATEWAY_RATE_LIMIT_RETRY_SECONDS", "1"))
# Limits for fetching issuer metadata and key sets.
JWKS_CONNECT_TIMEOUT = float(envstr("JWKS_CONNECT_TIMEOUT", "3"))
JWKS_READ_TIMEOUT = float(envstr("JWKS_READ_TIMEOUT", "5"))
JWKS_TOTAL_TIMEOUT = float(envstr("JWKS_TOTAL_TIMEOUT", "10"))
JWKS_MAX_BYTES = envint("JWKS_MAX_BYTES", 256 * 1024)
JWKS_MAX_KEYS = envint("JWKS_MAX_KEYS", 100)

# --- Observability (docs/operations.md, "Traffic, metrics and traces") ---------------
# /metrics: a scraper presents `Authorization: Bearer <GATEWAY_METRICS_TOKEN>` or connects
# from an address in GATEWAY_METRICS_ALLOW (the peer address, never X-Forwarded-For).
# Served on the admin listener; on the public listener too with GATEWAY_METRICS_ON_PUBLIC.
GATEWAY_METRICS = envbool("GATEWAY_METRICS", True)
GATEWAY_METRICS_TOKEN = envstr("GATEWAY_METRICS_TOKEN")
GATEWAY_METRICS_ALLOW = envlist("GATEWAY_METRICS_ALLOW", "127.0.0.1/32,::1/128")
GATEWAY_METRICS_ON_PUBLIC = envbool("GATEWAY_METRICS_ON_PUBLIC", False)
# Each worker moves its counts into the shared metric files this often (and at exit).
GATEWAY_METRICS_PUBLISH_SECONDS = float(envstr("GATEWAY_METRICS_PUBLISH_SECONDS", "1"))
for _network in GATEWAY_METRICS_ALLOW:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"GATEWAY_METRICS_ALLOW: {_network!r} is not an address or network"
        ) from None
# One JSON line per proxied call: "off", "stdout" or a file path; a fraction of calls.
GATEWAY_REQUEST_LOG = envstr("GATEWAY_REQUEST_LOG", "off")
GATEWAY_REQUEST_LOG_SAMPLE = float(envstr("GATEWAY_REQUEST_LOG_SAMPLE", "1"))
# Per-minute traffic rollups (analytics/): flushed from each worker's memory this often.
GATEWAY_ANALYTICS = envbool("GATEWAY_ANALYTICS", True)
GATEWAY_ANALYTICS_FLUSH_SECONDS = float(envstr("GATEWAY_ANALYTICS_FLUSH_SECONDS", "10"))
GATEWAY_ANALYTICS_MINUTE_HOURS = envint("GATEWAY_ANALYTICS_MINUTE_HOURS", 48)
GATEWAY_ANALYTICS_RETENTION_DAYS = envint("GATEWAY_ANALYTICS_RETENTION_DAYS", 90)
# OpenTelemetry traces over OTLP/HTTP, only when an endpoint is set (the standard variables).
OTEL_EXPORTER_OTLP_ENDPOINT = envstr("OTEL_EXPORTER_OTLP_ENDPOINT")
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = envstr("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
OTEL_SERVICE_NAME = envstr("OTEL_SERVICE_NAME", "gatekeep")

# --- The two planes -------------------------------------------------------------------
# Public listener (data plane: proxied APIs, relayed OAuth2 endpoints), admin listener
# (console, REST admin API, Django admin) and the control plane's internal listener,
# which only the data plane talks to. `manage.py serve` starts all three.
GATEWAY_PUBLIC_BIND = envstr("GATEWAY_PUBLIC_BIND", "127.0.0.1:8000")
GATEWAY_ADMIN_BIND = envstr("GATEWAY_ADMIN_BIND", "127.0.0.1:8001")
GATEWAY_INTERNAL_BIND = envstr("GATEWAY_INTERNAL_BIND", "127.0.0.1:8002")
GATEWAY_INTERNAL_URL = envstr("GATEWAY_INTERNAL_URL", f"http://{GATEWAY_INTERNAL_BIND}")
# Where clients reach the public listener (shown by the console); behind a load
# balancer, its public URL.
GATEWAY_PUBLIC_URL = envstr(
    "GATEWAY_PUBLIC_URL", "http://" + GATEWAY_PUBLIC_BIND.replace("0.0.0.0:", "127.0.0.1:")
)
# Behind a load balancer routing by host name: each listener answers only its own
# names (empty = any name in ALLOWED_HOSTS).
GATEWAY_PUBLIC_HOSTS = [host.lower() for host in envlist("GATEWAY_PUBLIC_HOSTS")]
GATEWAY_ADMIN_HOSTS = [host.lower() for host in envlist("GATEWAY_ADMIN_HOSTS")]
ALLOWED_HOSTS = [*ALLOWED_HOSTS, *GATEWAY_PUBLIC_HOSTS, *GATEWAY_ADMIN_HOSTS]
# The demo upstream (/demo/echo on the internal listener) exists only when this is on.
GATEWAY_DEMO = envbool("GATEWAY_DEMO", False)
# Data-plane connection handling, per worker process (proxy/server.py).
GATEWAY_MAX_CONNECTIONS = envint("GATEWAY_MAX_CONNECTIONS", 2000)
GATEWAY_CLIENT_HEADER_TIMEOUT = float(envstr("GATEWAY_CLIENT_HEADER_TIMEOUT", "10"))
GATEWAY_CLIENT_BODY_TIMEOUT = float(envstr("GATEWAY_CLIENT_BODY_TIMEOUT", "30"))
GATEWAY_KEEPALIVE_SECONDS = envint("GATEWAY_KEEPALIVE_SECONDS", 5)
GATEWAY_LIMIT_REQUEST_LINE = envint("GATEWAY_LIMIT_REQUEST_LINE", 4094)
GATEWAY_LIMIT_REQUEST_FIELDS = envint("GATEWAY_LIMIT_REQUEST_FIELDS", 100)
GATEWAY_LIMIT_REQUEST_FIELD_SIZE = envint("GATEWAY_LIMIT_REQUEST_FIELD_SIZE", 8190)
GATEWAY_LIMIT_REQUEST_HEAD = envint("GATEWAY_LIMIT_REQUEST_HEAD", 64 * 1024)
# The console's cookies; the public plane renames its own (gateway_admin/planes.py), and
# the data plane strips every gatekeep_* cookie from proxied requests (proxy/cookies.py).
SESSION_COOKIE_NAME = "gatekeep_admin_session"
CSRF_COOKIE_NAME = "gatekeep_admin_csrftoken"
# The console renders its CSRF token into the page; no script ever needs the cookie, so
# a page on another port of the same host cannot read it either.
CSRF_COOKIE_HTTPONLY = True

if not DEBUG:
    SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", True)
SECURE_CONTENT_TYPE_NOSNIFF = True

# --- Internal authorization server (django-oauth-toolkit) -----------------------
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "oauth2_provider.AccessToken"
OAUTH2_PROVIDER_ID_TOKEN_MODEL = "oauth2_provider.IDToken"
OAUTH2_PROVIDER_GRANT_MODEL = "oauth2_provider.Grant"
OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL = "oauth2_provider.RefreshToken"

# --- Internal authorization server: signing keys and OAuth2 endpoints -------------
# Encrypts signing keys at rest. Comma-separate several to rotate it: the first
# encrypts, all decrypt. Unset, it is derived from SECRET_KEY (HKDF), so changing
# SECRET_KEY then makes the stored signing keys unreadable.
GATEWAY_KEY_ENCRYPTION_KEY = envstr("GATEWAY_KEY_ENCRYPTION_KEY")
GATEWAY_SIGNING_KEY_ALGORITHM = envstr("GATEWAY_SIGNING_KEY_ALGORITHM", "RS256")
if GATEWAY_SIGNING_KEY_ALGORITHM not in {"RS256", "ES256"}:
    raise ImproperlyConfigured("GATEWAY_SIGNING_KEY_ALGORITHM must be RS256 or ES256")
# Celery beat rotates each internal server's key when the active one is this old.
GATEWAY_SIGNING_KEY_ROTATION_DAYS = envint("GATEWAY_SIGNING_KEY_ROTATION_DAYS", 30)
# Cache lifetime of /oauth2/jwks and discovery; a next key is published this long before it signs.
GATEWAY_JWKS_MAX_AGE_SECONDS = envint("GATEWAY_JWKS_MAX_AGE_SECONDS", 300)
OAUTH2_PROVIDER = {
    # oauthlib's server with the lifetime taken from the issuing AuthorizationServer.
    "OAUTH2_SERVER_CLASS": "issuer.server.GatewayOAuth2Server",
    "OAUTH2_VALIDATOR_CLASS": "issuer.validators.OpenIDValidator",
    # OpenID Connect (authorization-code flow only): ID tokens are signed by the issuing
    # server's active key (issuer/validators.py), never by a key in settings.
    "OIDC_ENABLED": True,
    "SCOPES_BACKEND_CLASS": "issuer.scopes.ApiScopes",
    # Access tokens are JWTs (RFC 9068); refresh tokens stay opaque random strings
    # (oauthlib would otherwise reuse the access-token generator for them).
    "ACCESS_TOKEN_GENERATOR": "issuer.tokens.generate_access_token",
    "REFRESH_TOKEN_GENERATOR": "oauthlib.oauth2.rfc6749.tokens.random_token_generator",
    "REFRESH_TOKEN_EXPIRE_SECONDS": envint("GATEWAY_REFRESH_TOKEN_LIFETIME_SECONDS", 14 * 86400),
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "ROTATE_REFRESH_TOKEN": True,
    "PKCE_REQUIRED": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    # DOT's resource protection is unused (the proxy validates tokens), but never
    # accept tokens from the query string there either.
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
}

# --- Production hardening (README: "Production hardening") ------------------------
# The admin, console and REST API answer a clear 503 instead of a stack trace while
# the database is down (proxied traffic is served from memory and never gets there).
MIDDLEWARE = [*MIDDLEWARE, "gateway_admin.middleware.DatabaseUnavailableMiddleware"]
if not DEBUG:
    # Browsers see HSTS only over HTTPS. A year, subdomains included; preloading is a
    # promise to browser vendors, so it is opt-in (SECURE_HSTS_PRELOAD=true).
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 365 * 86400)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", False)
# Redirect http to https in Django when no load balancer does it; the probes stay on
# plain http because load balancers call them that way.
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
# Behind a TLS-terminating proxy that *sets* this header (and strips a client's copy),
# e.g. SECURE_PROXY_SSL_HEADER=X-Forwarded-Proto; never set it otherwise.
if envstr("SECURE_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = (
        "HTTP_" + envstr("SECURE_PROXY_SSL_HEADER").upper().replace("-", "_"),
        "https",
    )
X_FRAME_OPTIONS = "DENY"

# --- Outbound policy (issue 12) ---
# Where upstream calls and key/discovery fetches may go (core/outbound_policy.py,
# docs/security.md). Comma-separated host names ("*.corp.example", "*"), IPs and CIDRs;
# link-local and cloud-metadata addresses are denied whatever these say (an ALLOW entry
# opens link-local only when it lies inside it; metadata addresses never open).
GATEWAY_OUTBOUND_ALLOW = envlist("GATEWAY_OUTBOUND_ALLOW")
GATEWAY_OUTBOUND_DENY = envlist("GATEWAY_OUTBOUND_DENY")
# Development and the tests run IdPs and upstreams on 127.0.0.1; turn this off in
# production (check --deploy warns, gateway_admin.W012, while it is on with DEBUG off).
GATEWAY_OUTBOUND_ALLOW_LOOPBACK = envbool("GATEWAY_OUTBOUND_ALLOW_LOOPBACK", True)
# Upstreams usually live on private networks (10/8, 172.16/12, 192.168/16, fc00::/7, ...).
GATEWAY_OUTBOUND_ALLOW_PRIVATE = envbool("GATEWAY_OUTBOUND_ALLOW_PRIVATE", True)
# The gateway's own listeners (GATEWAY_*_BIND above): an upstream there would loop.
# A malformed entry stops the start with ImproperlyConfigured naming the variable.
from core.outbound_policy import validate_settings as _validate_outbound  # noqa: E402

_validate_outbound(
    GATEWAY_OUTBOUND_ALLOW,
    GATEWAY_OUTBOUND_DENY,
    {
        "GATEWAY_PUBLIC_BIND": GATEWAY_PUBLIC_BIND,
        "GATEWAY_ADMIN_BIND": GATEWAY_ADMIN_BIND,
        "GATEWAY_INTERNAL_BIND": GATEWAY_INTERNAL_BIND,
    },
)

# --- Credentials and sessions (issue 12) ---
# django-axes counts failed sign-ins per username and client address and locks that pair
# out for a cool-off: console, Django admin, the OAuth2 login page and the password grant
# (accounts/logins.py, issuer/validators.py).
INSTALLED_APPS = [*INSTALLED_APPS, "axes"]
MIDDLEWARE = [
    *MIDDLEWARE,
    # Sign-in POSTs per address and minute, over all usernames (password spraying).
    "accounts.logins.SignInRateLimitMiddleware",
    # Last, as django-axes requires: it turns a lockout found during sign-in into its page.
    "axes.middleware.AxesMiddleware",
]
AUTHENTICATION_BACKENDS = [
    "accounts.logins.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Failures are kept in the database: every process and node sees the same count with or
# without Redis, operators can list and clear them (admin, `manage.py axes_reset_username`).
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = envint("GATEWAY_LOGIN_FAILURE_LIMIT", 5)
if AXES_FAILURE_LIMIT < 1:
    raise ImproperlyConfigured("GATEWAY_LOGIN_FAILURE_LIMIT must be at least 1")
GATEWAY_LOGIN_LOCKOUT_SECONDS = envint("GATEWAY_LOGIN_LOCKOUT_SECONDS", 15 * 60)
if GATEWAY_LOGIN_LOCKOUT_SECONDS < 1:
    raise ImproperlyConfigured("GATEWAY_LOGIN_LOCKOUT_SECONDS must be at least 1")
# A callable reading GATEWAY_LOGIN_LOCKOUT_SECONDS (axes takes bare numbers as hours).
AXES_COOLOFF_TIME = "accounts.logins.cool_off"
# Sign-in POSTs from one address per minute, over all usernames; 0 disables the limit.
GATEWAY_LOGIN_ATTEMPTS_PER_ADDRESS = envint("GATEWAY_LOGIN_ATTEMPTS_PER_ADDRESS", 30)
# Per username *and* address: a stranger guessing from elsewhere cannot lock a user out.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# A refused attempt does not extend the lockout, so the Retry-After we announce holds.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# Masked wherever axes keeps or logs request data (AccessAttempt.post_data, log lines): the
# password grant's body may carry the client secret (body authentication).
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "client_secret", "csrfmiddlewaretoken"]
AXES_USERNAME_CALLABLE = "accounts.logins.attempted_username"
AXES_CLIENT_IP_CALLABLE = "core.client_address.client_address"
AXES_LOCKOUT_CALLABLE = "accounts.logins.lockout_response"
# Successful sign-ins go to the gateway's own audit trail (AuditEvent), not axes' AccessLog.
AXES_DISABLE_ACCESS_LOG = True
AXES_HTTP_RESPONSE_CODE = 429
# Lockouts and failures are warnings; axes' per-sign-in info lines would only add noise.
LOGGING["loggers"]["axes"] = {"level": "WARNING"}

# Token endpoint (/oauth2/token) rate limits, per window of GATEWAY_TOKEN_RATE_WINDOW_SECONDS,
# counted in the cache: shared by all processes with Redis, per process without. 0 disables one.
GATEWAY_TOKEN_RATE_WINDOW_SECONDS = envint("GATEWAY_TOKEN_RATE_WINDOW_SECONDS", 60)
if GATEWAY_TOKEN_RATE_WINDOW_SECONDS < 1:
    raise ImproperlyConfigured("GATEWAY_TOKEN_RATE_WINDOW_SECONDS must be at least 1")
# Every token request from one client address.
GATEWAY_TOKEN_REQUESTS_PER_ADDRESS = envint("GATEWAY_TOKEN_REQUESTS_PER_ADDRESS", 60)
# Failed client authentications (invalid_client) for one client_id.
GATEWAY_TOKEN_CLIENT_FAILURES = envint("GATEWAY_TOKEN_CLIENT_FAILURES", 10)

# --- Roles (issue 12) -------------------------------------------------------------
# Upper bound of an internal issuer's access-token lifetime: enforced when an admin
# sets it (model validation) and when a token is minted. A day by default.
GATEWAY_MAX_TOKEN_LIFETIME_SECONDS = envint("GATEWAY_MAX_TOKEN_LIFETIME_SECONDS", 86400)
if not 60 <= GATEWAY_MAX_TOKEN_LIFETIME_SECONDS <= 30 * 86400:
    raise ImproperlyConfigured(
        "GATEWAY_MAX_TOKEN_LIFETIME_SECONDS must be between 60 and 2592000 (30 days)"
    )

# --- REST contract (issue 12) ---------------------------------------------------------
import tempfile  # noqa: E402 - kept inside this block, which owns every change below

# Every admin-plane request gets an id (the client's X-Request-Id when it is safe to
# echo, else a new one), sent back as X-Request-Id and quoted in problem+json errors.
MIDDLEWARE = ["gateway_admin.middleware.RequestIdMiddleware", *MIDDLEWARE]
REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"] = [
    # Admin-API keys as `Authorization: Token <key>` or `Bearer <key>`.
    "rest_api.authentication.AdminTokenAuthentication",
    "rest_framework.authentication.SessionAuthentication",
]
# Every error, including those of the schema and docs views, is problem+json.
REST_FRAMEWORK["EXCEPTION_HANDLER"] = "rest_api.exceptions.exception_handler"
# The schema and Swagger UI describe the whole control plane: staff only, like the API.
SPECTACULAR_SETTINGS["SERVE_PERMISSIONS"] = ["rest_framework.permissions.IsAdminUser"]
# OpenAPI imports larger than this are refused (413) before any YAML is parsed.
GATEWAY_OPENAPI_MAX_BYTES = envint("GATEWAY_OPENAPI_MAX_BYTES", 1024 * 1024)
# Files the gateway's processes write at run time (celery beat's schedule), kept out of
# the checkout. Per user, so several accounts on one host do not share a file.
GATEWAY_STATE_DIR = Path(
    envstr("GATEWAY_STATE_DIR")
    or Path(tempfile.gettempdir()) / f"gatekeep-{os.getuid() if hasattr(os, 'getuid') else 0}"
)
# celery beat's last-run times (a shelve file); read by Celery as beat_schedule_filename.
CELERY_BEAT_SCHEDULE_FILENAME = envstr(
    "CELERY_BEAT_SCHEDULE_FILENAME", str(GATEWAY_STATE_DIR / "celerybeat-schedule")
)
