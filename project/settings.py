"""
Settings for the project, read from the environment in this one place.

With nothing set, the app runs on SQLite and the in-memory channel layer. Set
DATABASE_URL and REDIS_URL to switch to PostgreSQL and Redis. DEBUG is off unless
DJANGO_DEBUG turns it on; with DEBUG off the process refuses to start without a
real DJANGO_SECRET_KEY and DJANGO_ALLOWED_HOSTS.

Every variable is listed in the table of docs/configuration.md.
"""

from ipaddress import ip_network
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django_asgi_kit.channel_layers import RedisSentinel, channel_layer_config

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

# GENERAL
# ------------------------------------------------------------------------------
DEBUG = env.bool("DJANGO_DEBUG", default=False)

# https://docs.djangoproject.com/en/5.2/ref/settings/#secret-key
# A development key is only allowed with DEBUG on; production must bring its own.
DEV_SECRET_KEY = "django-insecure-development-only-never-use-this-key-in-production"
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default=DEV_SECRET_KEY if DEBUG else "")

# https://docs.djangoproject.com/en/5.2/ref/settings/#allowed-hosts
# With DEBUG on and nothing set, Django allows localhost and 127.0.0.1 itself.
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])


def _refuse_insecure_production(secret_key: str, allowed_hosts: list[str]) -> None:
    """Stop at start-up, with the fix, rather than run in production insecurely."""
    # The same test `check --deploy` applies (security.W009), made fatal here.
    weak = (
        len(secret_key) < 50
        or len(set(secret_key)) < 5
        or secret_key.startswith("django-insecure-")
    )
    if weak:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set to a random string of at least 50 "
            "characters when DJANGO_DEBUG is off. Generate one with: python -c "
            '"from django.core.management.utils import get_random_secret_key; '
            'print(get_random_secret_key())"'
        )
    if not allowed_hosts:
        raise ImproperlyConfigured(
            "DJANGO_ALLOWED_HOSTS must list the host names this site serves "
            "(comma-separated, e.g. example.com,127.0.0.1) when DJANGO_DEBUG is off."
        )


if not DEBUG:
    _refuse_insecure_production(SECRET_KEY, ALLOWED_HOSTS)

TIME_ZONE = "UTC"
USE_TZ = True
LANGUAGE_CODE = "en-us"
USE_I18N = False

ROOT_URLCONF = "project.urls"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "chat:index"
LOGOUT_REDIRECT_URL = "core:home"
WSGI_APPLICATION = "project.wsgi.application"
# `python manage.py runserver` (daphne's) serves this, HTTP and WebSocket alike.
ASGI_APPLICATION = "project.asgi.application"

# APPS
# ------------------------------------------------------------------------------
DJANGO_APPS = [
    # daphne first: its runserver replaces Django's, so development speaks ASGI too.
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]
THIRD_PARTY_APPS = ["channels"]
LOCAL_APPS = [
    "apps.core",
    "apps.echo",
    "apps.chat",
    "apps.live",
    "apps.tasks",
    "apps.bench",
]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

# Under ASGI, django_asgi_kit.handlers.ASGIHandler loads each of these as its twin in
# django_asgi_kit.middleware, whose hooks run on the event loop instead of one thread
# hop each. This list keeps Django's names so its system checks see them; under
# WSGI these very classes run. Static files are served outside this chain
# (project/static.py).
MIDDLEWARE = [
    # First, so it times all the rest; async-capable, so it costs no thread hop.
    "apps.core.metrics.request_metrics",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
]

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

# DATABASES
# ------------------------------------------------------------------------------
# https://django-environ.readthedocs.io/en/latest/types.html#environ-env-db-url
DATABASES = {
    "default": env.db_url(
        "DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several server processes may share the file: WAL lets readers run beside
    # a writer, IMMEDIATE takes the write lock up front instead of failing midway.
    # https://docs.djangoproject.com/en/5.2/ref/databases/#sqlite-notes
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
# PostgreSQL: a pool of connections per process (Django's, psycopg_pool), at
# most DJANGO_DB_POOL_MAX_SIZE; a thread takes one for a request or a short
# call and gives it back at its end. Size it so that every process's maximum
# fits PostgreSQL's max_connections (docs/configuration.md, "Database connections").
# 0 turns the pool off: each thread then opens its own connection, kept for
# DJANGO_CONN_MAX_AGE seconds (0: closed after each request).
DB_POOL_MAX_SIZE = env.int("DJANGO_DB_POOL_MAX_SIZE", default=16)
DB_POOL_MIN_SIZE = env.int("DJANGO_DB_POOL_MIN_SIZE", default=2)
# Seconds a thread waits for a free connection before the request fails.
DB_POOL_TIMEOUT = env.float("DJANGO_DB_POOL_TIMEOUT", default=10.0)
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=0)


def _database_pool(database: dict) -> dict | None:
    """The OPTIONS["pool"] entry for `database`, or None for no pool."""
    if database["ENGINE"] != "django.db.backends.postgresql" or not DB_POOL_MAX_SIZE:
        return None
    if database["CONN_MAX_AGE"]:
        raise ImproperlyConfigured(
            "DJANGO_CONN_MAX_AGE keeps a connection per thread, which the pool "
            "does instead: leave DJANGO_CONN_MAX_AGE at 0, or turn the pool off "
            "with DJANGO_DB_POOL_MAX_SIZE=0."
        )
    if not 0 <= DB_POOL_MIN_SIZE <= DB_POOL_MAX_SIZE or DB_POOL_TIMEOUT <= 0:
        raise ImproperlyConfigured(
            "The database pool needs 0 <= DJANGO_DB_POOL_MIN_SIZE <= "
            "DJANGO_DB_POOL_MAX_SIZE and a DJANGO_DB_POOL_TIMEOUT above 0."
        )
    return {
        "min_size": DB_POOL_MIN_SIZE,
        "max_size": DB_POOL_MAX_SIZE,
        "timeout": DB_POOL_TIMEOUT,
    }


if db_pool := _database_pool(DATABASES["default"]):
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = db_pool
# Which ASGI handler serves HTTP: "fast" (django_asgi_kit.handlers, the settings
# below are its own) or "django" (Django's stock ASGIHandler, which ignores them).
# On a Django or asgiref release the kit is not tested on, "fast" falls back to
# Django's with a warning at start-up (django_asgi_kit.fence).
ASGI_HANDLER = env.str("DJANGO_ASGI_HANDLER", default="fast")
if ASGI_HANDLER not in ("fast", "django"):
    raise ImproperlyConfigured(
        f'DJANGO_ASGI_HANDLER must be "fast" or "django", not {ASGI_HANDLER!r}.'
    )
# Request threads django_asgi_kit.handlers keeps for the next requests: about the
# number of requests a process serves at once. More get a thread each, which
# ends with its request.
ASGI_IDLE_THREADS = env.int("DJANGO_ASGI_IDLE_THREADS", default=32)
# Requests for sync views django_asgi_kit.handlers serves at once, per process (a
# thread each), as a WSGI server's thread count; more wait their turn on the
# event loop. 4 served sync views 1.4x faster than no limit under 64
# connections (docs/performance.md); raise it for sync
# views that wait on slow I/O. 0: no limit, as in Django's own handler.
# Requests for async views never wait.
ASGI_MAX_SYNC_REQUESTS = env.int("DJANGO_ASGI_MAX_SYNC_REQUESTS", default=4)
if ASGI_MAX_SYNC_REQUESTS < 0:
    raise ImproperlyConfigured(
        "DJANGO_ASGI_MAX_SYNC_REQUESTS must be 0 (no limit) or a positive number."
    )
# Largest request body, in bytes, files included, that django_asgi_kit.handlers reads;
# a larger one is answered 413 before it is read (0: no limit). The default is
# Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MiB, files excluded), which Django
# checks only when a view reads the body, after all of it was received.
ASGI_MAX_REQUEST_BODY = env.int("DJANGO_ASGI_MAX_REQUEST_BODY", default=2_621_440)
if ASGI_MAX_REQUEST_BODY < 0:
    raise ImproperlyConfigured("DJANGO_ASGI_MAX_REQUEST_BODY must be 0 or more.")
# Threads shared by requests that hold none of their own (streamed bodies,
# long-polls), per process: each sync call such a request makes takes one
# for its duration (django_asgi_kit.handlers).
ASGI_SHARED_THREADS = env.int("DJANGO_ASGI_SHARED_THREADS", default=4)
if ASGI_SHARED_THREADS < 1:
    raise ImproperlyConfigured("DJANGO_ASGI_SHARED_THREADS must be 1 or more.")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# CHANNEL LAYERS
# ------------------------------------------------------------------------------
# https://channels.readthedocs.io/en/latest/topics/channel_layers.html
REDIS_URL = env.str("REDIS_URL", default="")


def _redis_sentinel() -> RedisSentinel | None:
    """REDIS_SENTINELS ("host:port,host:port") and REDIS_SENTINEL_MASTER (the
    name the sentinels know the master by), instead of REDIS_URL."""
    addresses = env.str("REDIS_SENTINELS", default="")
    if not addresses:
        return None
    try:
        return RedisSentinel.parse(
            addresses,
            env.str("REDIS_SENTINEL_MASTER", default=""),
            password=env.str("REDIS_SENTINEL_PASSWORD", default=""),
            master_password=env.str("REDIS_SENTINEL_MASTER_PASSWORD", default=""),
        )
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"REDIS_SENTINELS={addresses!r} with REDIS_SENTINEL_MASTER: {exc}."
        ) from None


REDIS_SENTINEL = _redis_sentinel()
# "memory" (one process only), "redis" (channels_redis RedisChannelLayer, the
# default with REDIS_URL or REDIS_SENTINELS) or "redis-pubsub"
# (RedisPubSubChannelLayer). Why redis is the default: see
# django_asgi_kit.channel_layers.
CHANNEL_LAYER_KIND = env.str(
    "DJANGO_CHANNEL_LAYER",
    default="redis" if REDIS_URL or REDIS_SENTINEL else "memory",
)
CHANNEL_LAYERS = {
    "default": channel_layer_config(
        CHANNEL_LAYER_KIND,
        redis_url=REDIS_URL,
        sentinel=REDIS_SENTINEL,
        capacity=env.int("DJANGO_CHANNEL_LAYER_CAPACITY", default=1000),
        max_connections=env.int("DJANGO_CHANNEL_LAYER_MAX_CONNECTIONS", default=50),
        prefix=env.str("DJANGO_CHANNEL_LAYER_PREFIX", default="asgi"),
    )
}

# STATIC FILES
# ------------------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/howto/static-files/deployment/
STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("DJANGO_STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Hashed names (served with a year's cache) plus gzip/brotli copies.
    "staticfiles": {
        "BACKEND": "servestatic.storage.CompressedManifestStaticFilesStorage"
    },
}

# SECURITY
# ------------------------------------------------------------------------------
# Defaults are production's; a deployment that serves plain HTTP on purpose (a
# test, or a proxy that terminates TLS without X-Forwarded-Proto) turns them off.
# https://docs.djangoproject.com/en/5.2/ref/checks/#security
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
# Health probes come from inside the network, over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SESSION_COOKIE_SECURE = env.bool("DJANGO_SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("DJANGO_CSRF_COOKIE_SECURE", default=not DEBUG)
# Start small: browsers remember HSTS for this long, raise it once HTTPS is sure.
SECURE_HSTS_SECONDS = env.int(
    "DJANGO_SECURE_HSTS_SECONDS", default=0 if DEBUG else 3600
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool(
    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True
)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
# Only behind a proxy that always sets X-Forwarded-Proto; otherwise a client
# could claim HTTPS itself.
if env.bool("DJANGO_SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Reverse proxies (addresses or networks, comma-separated) whose X-Forwarded-For
# and X-Forwarded-Proto the ASGI application believes, under every server
# (project/asgi.py). Empty: the client is whoever connected.
TRUSTED_PROXIES = env.list("DJANGO_TRUSTED_PROXIES", default=[])
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# Pages load scripts, styles and images from this site only, and open sockets
# and streams to it ('self' covers ws:/wss: to the same host): no template has
# inline script or style, so nothing needs 'unsafe-inline'.
# https://django-csp.readthedocs.io/en/latest/configuration.html
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"django.contrib.auth.password_validation.{name}"}
    for name in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]

# LOGGING
# ------------------------------------------------------------------------------
# Everything to stdout, where every server and container runtime collects it.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    },
    "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["stdout"], "level": env.str("DJANGO_LOG_LEVEL", "INFO")},
    # Replaces Django's own "django" console handler, which would print each
    # record a second time in DEBUG.
    "loggers": {"django": {"handlers": [], "propagate": True}},
}

# Who may read /metrics (apps/core/metrics.py): client addresses or networks,
# comma-separated; anyone else gets 404. Behind a proxy, the client address is
# the proxy's unless DJANGO_TRUSTED_PROXIES names it.
METRICS_ALLOWED_NETWORKS = [
    ip_network(network.strip())
    for network in env.list(
        "DJANGO_METRICS_ALLOWED_NETWORKS", default=["127.0.0.1/32", "::1/128"]
    )
]

# Or a scraper that sends "Authorization: Bearer <token>" (Prometheus's
# `authorization` setting), from anywhere. Empty: no token opens it.
METRICS_TOKEN = env.str("DJANGO_METRICS_TOKEN", default="")

# The /probe/ endpoints of the conformance suite (apps/core/probes.py).
PROBES_ENABLED = env.bool("DJANGO_PROBES", default=DEBUG)

# BENCHMARK
# ------------------------------------------------------------------------------
# The /bench/ page shows the newest run in this folder (`python -m bench` writes
# one subfolder per run there, git-ignored), else the committed reference run
# (bench/reference/); see bench/README.md.
BENCH_RESULTS_DIR = Path(
    env.str("DJANGO_BENCH_RESULTS_DIR", default=str(BASE_DIR / "var" / "bench-results"))
)

# CHAT
# ------------------------------------------------------------------------------
# Frames larger than this are refused (close code 4009) before any parsing.
# Room for CHAT_MAX_MESSAGE_CHARS even if every character is \u-escaped (12 bytes).
CHAT_MAX_FRAME_BYTES = env.int("DJANGO_CHAT_MAX_FRAME_BYTES", default=32 * 1024)
CHAT_MAX_MESSAGE_CHARS = 2000
CHAT_HISTORY_LIMIT = 50
# Per connection: bursts up to CHAT_RATE_BURST, then this many messages a second.
CHAT_RATE_PER_SECOND = env.float("DJANGO_CHAT_RATE_PER_SECOND", default=5.0)
CHAT_RATE_BURST = env.int("DJANGO_CHAT_RATE_BURST", default=10)
# Each connection refreshes its presence row this often; a row not refreshed for
# three intervals belongs to a connection that died without saying goodbye.
CHAT_PRESENCE_HEARTBEAT = env.float("DJANGO_CHAT_PRESENCE_HEARTBEAT", default=15.0)

# LIVE (streaming, Server-Sent Events, long-polling: apps/live)
# ------------------------------------------------------------------------------
# An SSE stream with nothing to say sends a comment this often, so proxies and
# browsers do not time the connection out.
LIVE_SSE_HEARTBEAT = env.float("DJANGO_LIVE_SSE_HEARTBEAT", default=15.0)
# A long-poll answers 204 after this many seconds without an event.
LIVE_LONGPOLL_TIMEOUT = env.float("DJANGO_LIVE_LONGPOLL_TIMEOUT", default=25.0)
# Events kept per topic for Last-Event-ID resume and long-polls; older ones are
# deleted as new ones arrive.
LIVE_EVENT_RETENTION = env.int("DJANGO_LIVE_EVENT_RETENTION", default=1000)
# Rows one download may ask for (~46 bytes each). It bounds what one download
# can make a server without backpressure (Daphne) hold in memory when its
# client does not read: the whole download.
LIVE_EXPORT_MAX_ROWS = env.int("DJANGO_LIVE_EXPORT_MAX_ROWS", default=1_000_000)

# TASKS (background work: apps/tasks)
# ------------------------------------------------------------------------------
# Jobs one web process runs itself at once; more are refused with 503.
TASKS_IN_PROCESS_LIMIT = env.int("DJANGO_TASKS_IN_PROCESS_LIMIT", default=4)
# On lifespan shutdown, in-process jobs get this long to finish before they are
# cancelled. Keep it under the server's own shutdown timeout (deploy/servers.toml).
TASKS_SHUTDOWN_GRACE = env.float("DJANGO_TASKS_SHUTDOWN_GRACE", default=10.0)
# A queued or running job not updated for this long is shown as lost: its
# process died, or its message expired before a worker took it (60 s).
TASKS_JOB_STALE_AFTER = env.float("DJANGO_TASKS_JOB_STALE_AFTER", default=90.0)
