"""Settings come from the environment; production refuses to start insecurely."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from serving.processes import child_environment

ROOT = Path(__file__).resolve().parents[3]
STRONG_KEY = "k" * 20 + "0123456789abcdefghijklmnopqrstuvwxyz"
PRODUCTION = {
    "DJANGO_SECRET_KEY": STRONG_KEY,
    "DJANGO_ALLOWED_HOSTS": "example.com",
}
# Prints what the settings resolved to, as JSON.
SHOW_SETTINGS = """
import json, django
from django.conf import settings
django.setup()
print(json.dumps({
    "debug": settings.DEBUG,
    "database": settings.DATABASES["default"]["ENGINE"],
    "layer": settings.CHANNEL_LAYERS["default"]["BACKEND"],
    "layer_config": settings.CHANNEL_LAYERS["default"].get("CONFIG", {}),
    "pool": settings.DATABASES["default"].get("OPTIONS", {}).get("pool"),
    "conn_max_age": settings.DATABASES["default"]["CONN_MAX_AGE"],
}))
"""
POSTGRES = {"DATABASE_URL": "postgres://u:p@db.internal:5432/app"}


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=child_environment({"DJANGO_SETTINGS_MODULE": "project.settings", **env}),
        capture_output=True,
        text=True,
        timeout=60,
    )


def resolved(env: dict[str, str]) -> dict:
    result = run_python(SHOW_SETTINGS, env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_embedded_default_is_sqlite_and_in_memory_layer():
    """With only DEBUG set, the app needs no service at all."""
    shown = resolved({"DJANGO_DEBUG": "1"})
    assert shown["debug"] is True
    assert shown["database"] == "django.db.backends.sqlite3"
    assert shown["layer"] == "django_asgi_kit.memory_layer.InMemoryChannelLayer"


def test_urls_switch_to_postgresql_and_redis():
    shown = resolved(
        {
            **PRODUCTION,
            "DATABASE_URL": "postgres://u:p@db.internal:5432/app",
            "REDIS_URL": "redis://cache.internal:6379/1",
        }
    )
    assert shown["debug"] is False
    assert shown["database"] == "django.db.backends.postgresql"
    assert shown["layer"] == "django_asgi_kit.channel_layers.RedisChannelLayer"
    assert (
        shown["layer_config"]["hosts"][0]["address"] == "redis://cache.internal:6379/1"
    )


def test_postgresql_gets_a_bounded_connection_pool_by_default():
    shown = resolved({**PRODUCTION, **POSTGRES, "DJANGO_DB_POOL_MAX_SIZE": "6"})
    assert shown["pool"] == {"min_size": 2, "max_size": 6, "timeout": 10.0}
    assert shown["conn_max_age"] == 0


def test_the_pool_can_be_turned_off_for_persistent_connections():
    off = {"DJANGO_DB_POOL_MAX_SIZE": "0", "DJANGO_CONN_MAX_AGE": "60"}
    shown = resolved({**PRODUCTION, **POSTGRES, **off})
    assert (shown["pool"], shown["conn_max_age"]) == (None, 60)
    # SQLite never gets one.
    assert resolved({"DJANGO_DEBUG": "1"})["pool"] is None


def test_pubsub_layer_is_a_setting():
    shown = resolved(
        {
            **PRODUCTION,
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "DJANGO_CHANNEL_LAYER": "redis-pubsub",
        }
    )
    assert shown["layer"] == "channels_redis.pubsub.RedisPubSubChannelLayer"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DJANGO_ALLOWED_HOSTS": "example.com"}, "DJANGO_SECRET_KEY must be set"),
        (
            {"DJANGO_SECRET_KEY": "short", "DJANGO_ALLOWED_HOSTS": "example.com"},
            "DJANGO_SECRET_KEY must be set",
        ),
        (
            {"DJANGO_SECRET_KEY": "django-insecure-" + STRONG_KEY},
            "DJANGO_SECRET_KEY must be set",
        ),
        ({"DJANGO_SECRET_KEY": STRONG_KEY}, "DJANGO_ALLOWED_HOSTS must list"),
        (
            {**PRODUCTION, "DJANGO_CHANNEL_LAYER": "redis"},
            "needs REDIS_URL (or REDIS_SENTINELS) to be set",
        ),
        (
            {
                **PRODUCTION,
                "REDIS_URL": "redis://127.0.0.1:6379/0",
                "REDIS_SENTINELS": "127.0.0.1:26379",
                "REDIS_SENTINEL_MASTER": "main",
            },
            "Set REDIS_URL or REDIS_SENTINELS, not both",
        ),
        (
            {**PRODUCTION, "REDIS_SENTINELS": "127.0.0.1:26379"},
            "REDIS_SENTINEL_MASTER: no master name given",
        ),
        (
            {
                **PRODUCTION,
                "REDIS_SENTINELS": "127.0.0.1",
                "REDIS_SENTINEL_MASTER": "main",
            },
            "'127.0.0.1' is not host:port",
        ),
        (
            {**PRODUCTION, "DJANGO_CHANNEL_LAYER": "kafka"},
            "is not one of memory, redis, redis-pubsub",
        ),
        (
            {**PRODUCTION, "DJANGO_ASGI_MAX_SYNC_REQUESTS": "-1"},
            "DJANGO_ASGI_MAX_SYNC_REQUESTS must be 0 (no limit) or a positive",
        ),
        (
            {**PRODUCTION, "DJANGO_ASGI_SHARED_THREADS": "0"},
            "DJANGO_ASGI_SHARED_THREADS must be 1 or more",
        ),
        (
            {**PRODUCTION, "DJANGO_ASGI_HANDLER": "faster"},
            'DJANGO_ASGI_HANDLER must be "fast" or "django"',
        ),
        (
            {**PRODUCTION, **POSTGRES, "DJANGO_CONN_MAX_AGE": "60"},
            "leave DJANGO_CONN_MAX_AGE at 0, or turn the pool off",
        ),
        (
            {**PRODUCTION, **POSTGRES, "DJANGO_DB_POOL_MIN_SIZE": "20"},
            "0 <= DJANGO_DB_POOL_MIN_SIZE <= DJANGO_DB_POOL_MAX_SIZE",
        ),
    ],
    ids=[
        "no-key",
        "weak-key",
        "insecure-key",
        "no-hosts",
        "layer-no-url",
        "url-and-sentinels",
        "sentinels-no-master",
        "sentinel-no-port",
        "bad-layer",
        "negative-sync-turns",
        "no-shared-threads",
        "unknown-handler",
        "pool-and-persistent",
        "pool-min-over-max",
    ],
)
def test_production_refuses_to_start_misconfigured(env, message):
    """Without DEBUG, a missing or weak setting stops the process with the fix."""
    result = run_python(SHOW_SETTINGS, env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


SENTINEL_SET = {
    "REDIS_SENTINELS": "127.0.0.1:26379,127.0.0.1:26380",
    "REDIS_SENTINEL_MASTER": "main",
    "REDIS_SENTINEL_PASSWORD": "sentinel-secret",
    "REDIS_SENTINEL_MASTER_PASSWORD": "master-secret",
}


@pytest.mark.parametrize(
    "env", [PRODUCTION, {**PRODUCTION, **SENTINEL_SET}], ids=["redis-url", "sentinel"]
)
def test_check_deploy_is_clean_with_production_settings(env):
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=child_environment(env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
