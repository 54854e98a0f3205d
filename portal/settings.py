"""Reservoir settings.

Everything comes from the environment. With nothing set, the whole system runs on one
machine: SQLite under ``var/``, the in-memory channel layer and a filesystem Celery
transport that the real worker and beat processes share. ``DATABASE_URL`` and
``REDIS_URL`` switch to PostgreSQL and Redis.
"""

import os
import secrets
from pathlib import Path

import dj_database_url
from celery.schedules import schedule

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("RESERVOIR_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _env_flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _secret_key() -> str:
    """The configured key, or one generated into var/ on first run (never committed)."""
    if key := os.environ.get("SECRET_KEY"):
        return key
    return secret_key_file(VAR_DIR / "secret_key")


def secret_key_file(path: Path) -> str:
    """The key in `path`, generated there first if missing. Processes starting together
    (make run) all get the first writer's key: it is written whole under a name of its own
    and linked into place, which fails for everyone but the first."""
    if not path.exists():
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        draft.write_text(secrets.token_urlsafe(50))
        draft.chmod(0o600)
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


# --- Production (DJANGO_ENV=production): what the deploy recipe runs -------------------
PRODUCTION = os.environ.get("DJANGO_ENV", "").strip().lower() == "production"
if PRODUCTION and not os.environ.get("SECRET_KEY"):
    from django.core.exceptions import ImproperlyConfigured

    # Several app servers must sign with the same key; a generated one would differ.
    raise ImproperlyConfigured("DJANGO_ENV=production needs SECRET_KEY in the environment")

SECRET_KEY = _secret_key()


def _ca_key_encryption_key() -> str:
    """Fernet key that encrypts CA private keys at rest; generated into var/ if not set."""
    if key := os.environ.get("CA_KEY_ENCRYPTION_KEY"):
        return key
    path = VAR_DIR / "ca_key_encryption_key"
    if not path.exists():
        import base64

        path.write_text(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
        path.chmod(0o600)
    return path.read_text().strip()


CA_KEY_ENCRYPTION_KEY = _ca_key_encryption_key()
DEBUG = _env_flag("DEBUG")
ALLOWED_HOSTS = os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver").split(",")
CSRF_TRUSTED_ORIGINS = [
    origin for origin in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if origin
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_htmx",
    "channels",
    "tenancy",
    "portal",
    "programs",
    "enrollment",
    "vendors",
    "protocol",
    "devices",
    "devices.connectors",
    "settlement",
]
INSTALLED_APPS += ["axes"]  # login lockout (see "Login hardening" below)

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before anything reads the session: 503 + Retry-After while the database is away.
    "portal.availability.DatabaseAvailabilityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "tenancy.middleware.ActiveUtilityMiddleware",
]
MIDDLEWARE += ["axes.middleware.AxesMiddleware"]  # turns a lockout into the lockout page

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = None
ASGI_APPLICATION = "portal.asgi.application"

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
                "tenancy.context_processors.tenancy",
            ],
        },
    },
]

# --- Data stores -------------------------------------------------------------------------

DATABASE_URL = os.environ.get("DATABASE_URL", "")
_SQLITE_OPTIONS = {
    "timeout": 20,
    "transaction_mode": "IMMEDIATE",
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
}
# Threads (each holding a database connection from the pool) storing the 2030.5 listener's
# lean writes (protocol.fastwrite). 8: statements in flight share PostgreSQL's WAL flushes
# (bench sep2, PUT DERStatus: 4 threads ~2,000 req/s, 8 ~2,250; 12 and 16 fewer).
SEP2_LEAN_WRITE_THREADS = int(os.environ.get("SEP2_LEAN_WRITE_THREADS", "8"))
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
    if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        DATABASES["default"].update(CONN_MAX_AGE=0, OPTIONS=_SQLITE_OPTIONS)
    else:
        # A pool per process, not persistent connections: under ASGI every request runs in a
        # thread of its own, so CONN_MAX_AGE would leave a connection behind per thread until
        # PostgreSQL refuses new clients. The pool bounds a process to DB_POOL_MAX_SIZE: by
        # default 8 beside the 2030.5 listener's lean-write threads, which hold theirs.
        DATABASES["default"].update(
            # Django's backend, whose pool checks each connection as it leaves the pool
            # (after a database restart the pooled ones are dead, and no request should
            # find out) with no round trip unless the server said something since.
            ENGINE="portal.postgresql",
            CONN_MAX_AGE=0,
            # Off: it would make the pool send an empty query on every checkout.
            CONN_HEALTH_CHECKS=False,
            OPTIONS={
                "pool": {
                    "min_size": 1,
                    "max_size": int(
                        os.environ.get("DB_POOL_MAX_SIZE", str(8 + SEP2_LEAN_WRITE_THREADS))
                    ),
                    "timeout": float(os.environ.get("DB_POOL_TIMEOUT_S", "10")),
                }
            },
        )
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "reservoir.sqlite3",
            # A file, not memory, so that worker, beat and server subprocesses in tests share it.
            "TEST": {"NAME": VAR_DIR / "test.sqlite3"},
            "OPTIONS": _SQLITE_OPTIONS,
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The 2030.5 listener's hot writes are prepared on the server (tenancy.db.one_row). Off for
# a pooler in transaction mode that does not keep prepared statements (PgBouncer < 1.21).
DATABASE_PREPARED_STATEMENTS = os.environ.get("DATABASE_PREPARED_STATEMENTS", "1") != "0"
# While the database is away requests get 503 and this Retry-After (portal.availability).
DATABASE_UNAVAILABLE_RETRY_AFTER_S = int(os.environ.get("DATABASE_UNAVAILABLE_RETRY_AFTER_S", "5"))

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # One pool per process, not per thread (each ASGI request has a thread).
            "OPTIONS": {"pool_class": "portal.redis_pool.SharedConnectionPool"},
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # redis-py 8 reads with a 5 s socket timeout by default, the same as the
            # layer's blocking BZPOPMIN, so idle consumers died with TimeoutError
            # (django/channels_redis#422). No client read timeout, as before redis-py 8:
            # BZPOPMIN's own 5 s bounds each read. (A 30 s timeout left tasks that ignored
            # cancellation: test teardown hung in 1 run of 5; none in 6 without it.)
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": None}]},
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {}
    REALTIME_RELAY_DIR = None  # every process reaches the Redis channel layer itself
else:
    # A file cache, not local memory, so the ASGI server and the Celery worker share
    # throttles (live pushes, rate limits) across processes on one machine.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    # The in-memory layer lives in the one ASGI server; Celery workers relay their pushes
    # to it through this folder (see portal.realtime).
    REALTIME_RELAY_DIR = Path(os.environ.get("REALTIME_RELAY_DIR", VAR_DIR / "realtime-relay"))
    # Kombu's filesystem transport: a real broker that separate worker and beat
    # processes on one machine share through a folder. Never eager mode.
    CELERY_BROKER_DIR = Path(os.environ.get("CELERY_BROKER_DIR", VAR_DIR / "celery-broker"))
    for _sub in ("out", "processed", "control"):
        (CELERY_BROKER_DIR / _sub).mkdir(parents=True, exist_ok=True)
    # portal.broker: kombu's filesystem transport with atomic message writes.
    CELERY_BROKER_URL = "reservoirfs://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR / "out"),
        "data_folder_out": str(CELERY_BROKER_DIR / "out"),
        "processed_folder": str(CELERY_BROKER_DIR / "processed"),
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "store_processed": False,
    }

# --- Celery ------------------------------------------------------------------------------

CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
HEARTBEAT_INTERVAL_S = int(os.environ.get("HEARTBEAT_INTERVAL_S", "15"))
# Modbus connectors: how long a device holds a setpoint without a re-assert, and how many
# requests may be in flight across all sites.
CONNECTOR_REVERSION_S = int(os.environ.get("CONNECTOR_REVERSION_S", "300"))
CONNECTOR_CONCURRENCY = int(os.environ.get("CONNECTOR_CONCURRENCY", "64"))
# Devices count as stale once silent this long: fleet health counts, live aggregates and
# the device-stale alert rule (which never alerts sooner than this).
DEVICE_STALE_AFTER_S = int(os.environ.get("DEVICE_STALE_AFTER_S", "900"))
# A dispatched device that has not answered is "awaiting" until the event's end plus this
# grace period (late Responses and read-back still count), and "silent" only after it.
EVENT_RESPONSE_GRACE_S = int(os.environ.get("EVENT_RESPONSE_GRACE_S", "900"))
# How often beat has the alert rules evaluated.
ALERTS_EVALUATE_INTERVAL_S = int(os.environ.get("ALERTS_EVALUATE_INTERVAL_S", "30"))
CELERY_BEAT_SCHEDULE = {
    "portal.alerts_evaluate": {
        "task": "portal.alerts_evaluate",
        "schedule": schedule(ALERTS_EVALUATE_INTERVAL_S),
        "options": {"expires": max(2 * ALERTS_EVALUATE_INTERVAL_S, 10)},
    },
    "programs.events_reconcile": {
        "task": "programs.events_reconcile",
        "schedule": schedule(30),
        "options": {"expires": 60},
    },
    # Notifications whose task was lost with a killed worker are sent again (protocol.
    # notifications.NOTIFY_SWEEP_S; with NOTIFY_LEASE_S it bounds their delay).
    "protocol.notifications_sweep": {
        "task": "protocol.notifications_sweep",
        "schedule": schedule(10),
        "options": {"expires": 10},
    },
    "system.heartbeat": {
        "task": "system.heartbeat",
        "schedule": schedule(HEARTBEAT_INTERVAL_S),
        "options": {"expires": HEARTBEAT_INTERVAL_S * 2},
    },
    # The CRLs nginx checks are valid for 30 days; rewrite them daily.
    "protocol.sep2_trust_write": {
        "task": "protocol.sep2_trust_write",
        "schedule": schedule(24 * 3600),
        "options": {"expires": 3600},
    },
    # Ingest only marks the hours it writes; this keeps their rollups at most a minute
    # behind (devices.services.telemetry_rollup_pending).
    "devices.rollup": {
        "task": "devices.rollup",
        "schedule": schedule(60),
        "options": {"expires": 55},
    },
    "devices.telemetry_partitions": {
        "task": "devices.telemetry_partitions",
        "schedule": schedule(24 * 3600),
        "options": {"expires": 3600},
    },
    "devices.connectors_poll": {
        "task": "devices.connectors_poll",
        "schedule": schedule(10),
        "options": {"expires": 9},
    },
    # At most half the reversion time, so a live setpoint never lapses between re-asserts.
    "devices.connectors_reassert": {
        "task": "devices.connectors_reassert",
        "schedule": schedule(min(60, CONNECTOR_REVERSION_S // 2 - 1)),
        "options": {"expires": 30},
    },
    "devices.telemetry_prune": {
        "task": "devices.telemetry_prune",
        "schedule": schedule(24 * 3600),
        "options": {"expires": 3600},
    },
}
# Raw telemetry samples are kept this long; rollups are kept.
TELEMETRY_RETENTION_DAYS = int(os.environ.get("TELEMETRY_RETENTION_DAYS", "400"))
# Beat and the worker count as late when their heartbeat is older than this.
HEARTBEAT_STALE_AFTER_S = 60

# --- Auth --------------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "portal:home"
LOGOUT_REDIRECT_URL = "login"

# --- Login hardening (django-axes) -------------------------------------------------------
# Five failures for one username from one address lock that pair for 15 minutes; the right
# password does not get through meanwhile. Operators unlock in admin (Axes > Access attempts).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = 5
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_COOLOFF_TIME = 0.25  # hours
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "portal.security.client_address"
AXES_VERBOSE = False

EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.filebased.EmailBackend",
)
EMAIL_FILE_PATH = VAR_DIR / "mail"
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Reservoir <noreply@reservoir.example>")
# Customers' emails come from their utility's name at this address.
CUSTOMER_FROM_ADDRESS = os.environ.get("CUSTOMER_FROM_ADDRESS", "noreply@reservoir.example")
# Links in emails (sent by workers, with no request to take the host from) start here.
PORTAL_BASE_URL = os.environ.get("PORTAL_BASE_URL", "http://127.0.0.1:8000")
# A signed opt-out link is refused after this long even before its event ends.
OPT_OUT_LINK_MAX_AGE_S = int(os.environ.get("OPT_OUT_LINK_MAX_AGE_S", str(30 * 86400)))

# --- I18N, time ----------------------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files (WhiteNoise; htmx and the chart library are vendored, never a CDN) -----

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns about a missing root before collectstatic
STATICFILES_DIRS = []
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
MEDIA_ROOT = VAR_DIR / "media"
# Tests and runserver serve straight from the app folders; `make run` collects first.
WHITENOISE_USE_FINDERS = DEBUG or _env_flag("WHITENOISE_USE_FINDERS")
if WHITENOISE_USE_FINDERS:
    STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}

# --- API ---------------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # JSON bodies only: form encodings cannot carry null or nested values (a curve's points),
    # so the schema would promise requests the serializers refuse. The account-list upload
    # names its own multipart parsers.
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DEFAULT_PAGINATION_CLASS": "tenancy.api.pagination.BoundedLimitOffsetPagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Reservoir API",
    "DESCRIPTION": "Program administration for utility bring-your-own-battery programs.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several "kind" fields: each choice set gets a name of its own in the schema.
    "ENUM_NAME_OVERRIDES": {
        "Sep2ClientKindEnum": "protocol.models.ClientKind",
        "EventKindEnum": "programs.choices.EventKind",
        # A curve's y reference and a fixed var's reference are one 2030.5 DERUnitRefType.
        "UnitRefTypeEnum": "programs.choices.UnitRefType",
    },
    # Requests get components of their own (`BrandRequest` …): without read-only fields, and
    # with what the API requires of input (a required text is not blank), which answers
    # need not satisfy.
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "tenancy.api.schema.document_error_responses",
    ],
}

# --- IEEE 2030.5 -------------------------------------------------------------------------

# The install's IANA Private Enterprise Number, in decimal. The last 8 hex digits of every
# mRID the server makes encode it (CSIP-AUS). The default, 32473, is the number IANA keeps
# for documentation (RFC 5612); set your organisation's own (checked by protocol.checks).
SEP2_IANA_PEN = os.environ.get("SEP2_IANA_PEN", "32473")
# Bodies larger than this are refused before parsing.
SEP2_MAX_BODY_BYTES = int(os.environ.get("SEP2_MAX_BODY_BYTES", str(64 * 1024)))
# Only these peers (addresses or CIDRs) may vouch for a client certificate in
# X-SSL-Client-Cert: the TLS-terminating proxy.
SEP2_TRUSTED_PROXIES = [
    p.strip()
    for p in os.environ.get("SEP2_TRUSTED_PROXIES", "127.0.0.1,::1").split(",")
    if p.strip()
]


def _sep2_proxy_secret() -> str:
    """The per-install secret nginx sends in X-Reservoir-Proxy-Secret with every request it
    forwards to the 2030.5 listener; generated into var/ on first run unless configured."""
    if key := os.environ.get("SEP2_PROXY_SECRET"):
        return key
    path = VAR_DIR / "sep2_proxy_secret"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


# The forwarded certificate is believed only with this secret as well as from a trusted peer.
SEP2_PROXY_SECRET = _sep2_proxy_secret()
# Where protocol.trust writes nginx's program CA bundle, CRL and proxy-secret include.
# Where protocol.cache keeps its invalidation tokens: "file" (a memory-mapped file every
# process on this host shares) or "redis" (REDIS_URL; for processes on several hosts).
SEP2_CACHE_GENERATIONS = os.environ.get("SEP2_CACHE_GENERATIONS", "file")
if SEP2_CACHE_GENERATIONS not in ("file", "redis") or (
    SEP2_CACHE_GENERATIONS == "redis" and not REDIS_URL
):
    raise ImproperlyConfigured('SEP2_CACHE_GENERATIONS is "file", or "redis" with REDIS_URL')
# The bound on the portal's "last seen" / "last poll": the 2030.5 listener writes polls'
# times in sets at most this many seconds after they happen (protocol.seen).
SEP2_SEEN_FLUSH_S = float(os.environ.get("SEP2_SEEN_FLUSH_S", "10"))
# 0: every write goes through Django (the lean path off, e.g. to compare).
SEP2_LEAN_WRITES = os.environ.get("SEP2_LEAN_WRITES", "1") != "0"
SEP2_TLS_DIR = Path(os.environ.get("SEP2_TLS_DIR", VAR_DIR / "tls"))
# The demo CA (manage.py sep2_demo_pki) nginx trusts too: unset means VAR_DIR/demo/sep2,
# empty means none (production).
SEP2_DEMO_PKI_DIR = os.environ.get("SEP2_DEMO_PKI_DIR")
# The nginx `make run` starts (config and pid file) that sep2_trust_write reloads: unset
# means VAR_DIR/run/sep2-nginx.
SEP2_NGINX_DIR = os.environ.get("SEP2_NGINX_DIR")
# Notification targets on loopback or private addresses: only for local test runs (make
# conformance's notification webhook listens on 127.0.0.1). Never in production.
SEP2_NOTIFY_ALLOW_PRIVATE = _env_flag("SEP2_NOTIFY_ALLOW_PRIVATE")

# --- Security ----------------------------------------------------------------------------

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads it to send X-CSRFToken
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Behind the site's TLS proxy (deploy/env/reservoir.env.example turns these on).
if _env_flag("SECURE_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = _env_flag("SECURE_SSL_REDIRECT")
SESSION_COOKIE_SECURE = _env_flag("SESSION_COOKIE_SECURE")
CSRF_COOKIE_SECURE = _env_flag("CSRF_COOKIE_SECURE")
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0"))

if PRODUCTION:
    # TLS ends at the proxy, which overwrites X-Forwarded-Proto (deploy/nginx); plain HTTP
    # that reaches us anyway is redirected.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = _env_flag("SECURE_HSTS_PRELOAD", default=True)

# --- Content-Security-Policy (django-csp) ------------------------------------------------
# No inline script or style: behaviour lives in static files (portal/page.js and
# portal/pages/), data in json_script blocks and data- attributes (the brand colour too).
# A block that truly needs to be inline may carry {{ request.csp_nonce }}; none does today.
# Browser tests fail on any violation (tests/e2e/conftest.py).
from csp.constants import NONCE, NONE, SELF  # noqa: E402

INSTALLED_APPS += ["csp"]
MIDDLEWARE.insert(MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
                  "csp.middleware.CSPMiddleware")  # fmt: skip
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.request": {"level": "ERROR"}, "axes": {"level": "WARNING"}},
}
