"""Drainboard settings: every value comes from the environment, and a bad value fails at start-up."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from config.env import dev_secret, env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("DRAINBOARD_VAR_DIR", str(BASE_DIR / "var")) or BASE_DIR / "var")
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)


def _required_secret(name: str, dev_factory=None) -> str:
    value = env_str(name)
    if value:
        return value
    if DEBUG:
        return dev_secret(VAR_DIR, name, dev_factory) if dev_factory else dev_secret(VAR_DIR, name)
    raise ImproperlyConfigured(f"{name} must be set when DEBUG is off")


SECRET_KEY = _required_secret("SECRET_KEY")
if not DEBUG and (len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5):
    raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters with at least 5 distinct ones")

# Cluster credentials and webhook URLs are encrypted with these Fernet keys, never with SECRET_KEY:
# the first key encrypts, all of them decrypt, so a new key can be put first and old data re-encrypted.
FIELD_ENCRYPTION_KEYS = [
    key.strip()
    for key in _required_secret("FIELD_ENCRYPTION_KEYS", lambda: Fernet.generate_key().decode()).split(",")
    if key.strip()
]
for _index, _key in enumerate(FIELD_ENCRYPTION_KEYS):
    try:
        Fernet(_key)
    except (ValueError, TypeError):
        raise ImproperlyConfigured(
            f"FIELD_ENCRYPTION_KEYS entry {_index + 1} is not a Fernet key (32 url-safe base64-encoded bytes)"
        ) from None
if not FIELD_ENCRYPTION_KEYS:
    raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS must hold at least one Fernet key")

# Where `manage.py ensure_admin` leaves a generated first-admin password when DEBUG is off (never in the logs).
ADMIN_PASSWORD_FILE = Path(env_str("DRAINBOARD_ADMIN_PASSWORD_FILE") or VAR_DIR / "admin-password")

AUDIT_HMAC_KEY = _required_secret("AUDIT_HMAC_KEY")
if len(AUDIT_HMAC_KEY) < 32:
    raise ImproperlyConfigured("AUDIT_HMAC_KEY must be at least 32 characters")
# Days of audit events to keep; `manage.py audit_retain --export PATH` exports and removes older ones. 0 keeps all.
AUDIT_RETENTION_DAYS = env_int("AUDIT_RETENTION_DAYS", 0, minimum=0)
# How often beat advances the audit chain's verification checkpoint.
AUDIT_VERIFY_INTERVAL_SECONDS = env_int("AUDIT_VERIFY_INTERVAL_SECONDS", 300, minimum=10)
# The hour (UTC) at which beat recomputes the whole chain every day.
AUDIT_FULL_VERIFY_HOUR = env_int("AUDIT_FULL_VERIFY_HOUR", 3, minimum=0)
if AUDIT_FULL_VERIFY_HOUR > 23:
    raise ImproperlyConfigured("AUDIT_FULL_VERIFY_HOUR must be an hour from 0 to 23 (UTC)")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off (comma-separated host names)")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
for _origin in CSRF_TRUSTED_ORIGINS:
    if not _origin.startswith(("http://", "https://")):
        raise ImproperlyConfigured(f"CSRF_TRUSTED_ORIGINS entries need a scheme, got {_origin!r}")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "axes",
    "csp",
    "accounts",
    "audit",
    "clusters",
    "evictions",
    "rollouts",
    "notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.request_id.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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

# Database: PostgreSQL in production (DATABASE_URL), SQLite under var/ by default.
DATABASE_URL = env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'drainboard.sqlite3'}"
try:
    _database = dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60, minimum=0))
except ValueError as error:
    raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {error}") from None
if _database["ENGINE"] == "django.db.backends.sqlite3":
    _database["CONN_MAX_AGE"] = 0
    # Tests use a file, not memory, so a real Celery worker and the live server see the same data.
    _database["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
    # IMMEDIATE takes the write lock when a transaction starts, so the web server, the worker and beat
    # queue for it instead of failing with "database is locked" half-way through a change.
    _database["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
elif _database["ENGINE"] == "django.db.backends.postgresql":
    _database["CONN_HEALTH_CHECKS"] = True
DATABASES = {"default": _database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# Brute-force protection: lock a username from one address after repeated failures.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_VERBOSE = False
# The database handler, plus the audit event of each lock-out in the same transaction.
AXES_HANDLER = "accounts.lockout.AuditedAxesHandler"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC") or "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise expects it even before collectstatic ran
WHITENOISE_USE_FINDERS = DEBUG
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Security headers. TLS terminates at a proxy in production; SECURE_* defaults follow DEBUG.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("TRUST_X_FORWARDED_PROTO", False) else None
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 12 * 3600, minimum=60)
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    }
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "core.schema.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "core.pagination.BoundedLimitOffsetPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "DEFAULT_PARSER_CLASSES": ["core.api.JSONParser"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Drainboard API",
    "DESCRIPTION": "Kubernetes API-initiated eviction, scheduled, approved and audited.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "RequestStatusEnum": "evictions.models.RequestStatus",
        "PodStatusEnum": "evictions.models.PodStatus",
        "RequestKindEnum": "evictions.models.RequestKind",
        "AttemptKindEnum": "evictions.models.AttemptKind",
        "EndpointKindEnum": "notifications.models.EndpointKind",
        "DeliveryStatusEnum": "notifications.models.DeliveryStatus",
        "NotificationEventEnum": "notifications.events.Event",
        "PolicySourceEnum": "evictions.api.POLICY_SOURCES",
    },
}

# Celery. REDIS_URL selects Redis; without it, a file-system broker under var/ needs nothing installed.
# PostgreSQL (or SQLite) stays the source of truth, so a lost message only delays work until the next tick.
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL and not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured(f"REDIS_URL must start with redis://, rediss:// or unix://, got {REDIS_URL!r}")
BROKER_DIR = VAR_DIR / "broker"
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 60, minimum=1)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 90, minimum=2)
if CELERY_TASK_TIME_LIMIT <= CELERY_TASK_SOFT_TIME_LIMIT:
    raise ImproperlyConfigured("CELERY_TASK_TIME_LIMIT must be greater than CELERY_TASK_SOFT_TIME_LIMIT")
TICK_SECONDS = env_int("TICK_SECONDS", 15, minimum=1)
CLUSTER_CHECK_INTERVAL_SECONDS = env_int("CLUSTER_CHECK_INTERVAL_SECONDS", 60, minimum=1)

# Talking to clusters.
ALLOW_HTTP_CLUSTERS = env_bool("ALLOW_HTTP_CLUSTERS", False)
KUBE_CONNECT_TIMEOUT_SECONDS = env_int("KUBE_CONNECT_TIMEOUT_SECONDS", 5, minimum=1)
KUBE_READ_TIMEOUT_SECONDS = env_int("KUBE_READ_TIMEOUT_SECONDS", 15, minimum=1)

# Notifications: links in messages point here; e-mail goes through Django's mail backend.
DRAINBOARD_BASE_URL = (env_str("DRAINBOARD_BASE_URL", "http://127.0.0.1:8000") or "").rstrip("/")
if not DRAINBOARD_BASE_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(f"DRAINBOARD_BASE_URL must start with http:// or https://, got {DRAINBOARD_BASE_URL!r}")
EMAIL_BACKEND = env_str("EMAIL_BACKEND") or (
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend"
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost") or "localhost"
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "") or ""
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "") or ""
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("Set at most one of EMAIL_USE_TLS and EMAIL_USE_SSL")
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "drainboard@localhost") or "drainboard@localhost"
SERVER_EMAIL = DEFAULT_FROM_EMAIL

LOG_LEVEL = (env_str("LOG_LEVEL", "INFO") or "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {LOG_LEVEL!r}")
# LOG_FORMAT=json: one JSON object per line (time, level, logger, message, request_id; task name and id in Celery
# tasks) for a log collector; the default "plain" is for people.
LOG_FORMAT = (env_str("LOG_FORMAT", "plain") or "plain").lower()
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, got {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "core.request_id.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "core.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # The Kubernetes client logs request headers at DEBUG, which would include bearer tokens.
        "kubernetes": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
        # Django's own console handler (DEBUG only) would print a second, unformatted copy of each line.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
    },
}

# /metrics: open to these networks, or to anyone presenting `Authorization: Bearer METRICS_TOKEN`.
METRICS_ALLOWED_CIDRS = env_list("METRICS_ALLOWED_CIDRS", ["127.0.0.1/32", "::1/128"])
try:
    METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network(cidr, strict=False) for cidr in METRICS_ALLOWED_CIDRS]
except ValueError as error:
    raise ImproperlyConfigured(f"METRICS_ALLOWED_CIDRS must be comma-separated networks: {error}") from None
METRICS_TOKEN = env_str("METRICS_TOKEN", "") or ""
if METRICS_TOKEN and len(METRICS_TOKEN) < 16:
    raise ImproperlyConfigured("METRICS_TOKEN must be at least 16 characters (or unset)")
METRICS_CACHE_SECONDS = env_int("METRICS_CACHE_SECONDS", 5, minimum=0)

if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    # Celery countdowns stay far below this, so Redis never redelivers a task that is merely waiting.
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "visibility_timeout": 3600,
        # A dead peer (a restarted Redis host, a dropped NAT entry) is noticed instead of waited on for ever: TCP
        # keepalive, a PING on idle connections every 10 s, and bounded connects and reads.
        "socket_keepalive": True,
        "health_check_interval": 10,
        "socket_connect_timeout": 5,
        "socket_timeout": 30,
        "retry_on_timeout": True,
    }
else:
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        "polling_interval": 0.1,  # the default 1 s would add up to a second to every hand-off between tasks
    }
    for _folder in ("queue", "control"):
        (BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Losing Redis must not end a worker: it reconnects by itself (retrying every 2, 4, … up to 30 s) for as long as Redis
# is away, where Celery's default gives up after 100 tries (about 45 minutes); config/broker.py keeps the old channel
# from killing it (see docs/OPERATIONS.md). Late-acknowledged tasks in flight when the connection drops run to their
# end, not cancelled: their results are in the database, and the tick sends again whatever a lost message would have.
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_BROKER_CONNECTION_TIMEOUT = 4
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TIMEZONE = "UTC"
# Budget watchers hold a long HTTP watch: they get their own queue (a thread-pool worker) so that they never take
# the slots that eviction attempts need.
# Notifications wait on other people's servers: their own queue, so a slow endpoint never delays an eviction.
# Services send tasks by name (core.dispatch), so a task's routing and priority are declared here, by name.
CELERY_TASK_ROUTES = {
    "evictions.tasks.watch_budgets": {"queue": "watch"},
    "notifications.tasks.deliver": {"queue": "notify"},
    "evictions.tasks.follow_request": {"priority": 0},
    "evictions.tasks.tick": {"priority": 0},
}
# With Redis, a task of priority 0 is taken before those of the default 3 in the same queue: the tick never waits
# behind a backlog of attempts (at 100 drains at once it did, for minutes, and expired unrun). The file-system broker
# of `make run` has no priorities; it serves one machine.
CELERY_TASK_DEFAULT_PRIORITY = 3
CELERY_BEAT_SCHEDULE = {
    "tick": {
        "task": "evictions.tasks.tick",
        "schedule": float(TICK_SECONDS),
        "options": {"expires": TICK_SECONDS, "priority": 0},
    },
    # Each app has its own part of the tick: cluster checks, and notifications (long blocks, due deliveries).
    "clusters-tick": {
        "task": "clusters.tasks.tick",
        "schedule": float(TICK_SECONDS),
        "options": {"expires": TICK_SECONDS},
    },
    "notifications-tick": {
        "task": "notifications.tasks.tick",
        "schedule": float(TICK_SECONDS),
        "options": {"expires": TICK_SECONDS},
    },
    "audit-verify": {
        "task": "audit.tasks.verify_chain",
        "schedule": float(AUDIT_VERIFY_INTERVAL_SECONDS),
        "options": {"expires": AUDIT_VERIFY_INTERVAL_SECONDS},
    },
    # Every event's HMAC recomputed from the chain's start: the periodic check above only recomputes new events.
    "audit-verify-full": {
        "task": "audit.tasks.verify_chain_full",
        "schedule": crontab(minute=0, hour=AUDIT_FULL_VERIFY_HOUR),
        "options": {"expires": 6 * 3600},
    },
}
