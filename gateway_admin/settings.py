"""Gatekeep settings: every knob comes from the environment, with embedded defaults.

Unset DATABASE_URL means a local SQLite file; unset REDIS_URL means an in-process
cache and eager Celery, so the gateway runs with no other server.
"""

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
    "gateway_admin",
    "authservers",
    "apis",
    "applications",
    "proxy",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
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

DATABASES = {
    "default": dj_database_url.parse(
        envstr("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=envint("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Tests start real servers in other threads and processes: a file-backed
    # test database is visible to all of them, an in-memory one is not.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "test-db.sqlite3")}
    DATABASES["default"]["OPTIONS"] = {"timeout": 20}

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
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "/admin/login/"

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
GATEWAY_KEYS_POLL_SECONDS = float(envstr("GATEWAY_KEYS_POLL_SECONDS", "5"))
# On-demand JWKS refreshes (unknown kid) per server are at most this frequent.
GATEWAY_KID_REFRESH_INTERVAL = float(envstr("GATEWAY_KID_REFRESH_INTERVAL", "30"))
GATEWAY_VERIFIED_TOKEN_CACHE_SIZE = envint("GATEWAY_VERIFIED_TOKEN_CACHE_SIZE", 20000)
GATEWAY_UPSTREAM_POOL_SIZE = envint("GATEWAY_UPSTREAM_POOL_SIZE", 32)
# Limits for fetching issuer metadata and key sets.
JWKS_CONNECT_TIMEOUT = float(envstr("JWKS_CONNECT_TIMEOUT", "3"))
JWKS_READ_TIMEOUT = float(envstr("JWKS_READ_TIMEOUT", "5"))
JWKS_TOTAL_TIMEOUT = float(envstr("JWKS_TOTAL_TIMEOUT", "10"))
JWKS_MAX_BYTES = envint("JWKS_MAX_BYTES", 256 * 1024)
JWKS_MAX_KEYS = envint("JWKS_MAX_KEYS", 100)

if not DEBUG:
    SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", True)
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0)
SECURE_CONTENT_TYPE_NOSNIFF = True

# --- Internal authorization server (django-oauth-toolkit) -----------------------
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "oauth2_provider.AccessToken"
OAUTH2_PROVIDER_ID_TOKEN_MODEL = "oauth2_provider.IDToken"
OAUTH2_PROVIDER_GRANT_MODEL = "oauth2_provider.Grant"
OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL = "oauth2_provider.RefreshToken"
