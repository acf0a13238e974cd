"""
A PostgreSQL database of a run's own (a test session's, a benchmark's),
migrated (and so seeded), and dropped at the end.
"""

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from serving.processes import child_environment
from serving.registry import ROOT


class ServiceUnavailable(RuntimeError):
    """PostgreSQL or Redis does not answer; the message says which and how to fix."""


def _connect(admin_url: str) -> psycopg.Connection:
    try:
        return psycopg.connect(admin_url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        raise ServiceUnavailable(
            f"PostgreSQL at {admin_url} does not answer ({exc}). Start it, or give "
            "another server with --postgres-url (its user must be allowed to "
            "create databases)."
        ) from exc


def database_connections(admin_url: str, name: str) -> int:
    """Connections the PostgreSQL server of `admin_url` has open to database `name`."""
    with _connect(admin_url) as admin:
        query = "SELECT count(*) FROM pg_stat_activity WHERE datname = %s"
        return admin.execute(query, (name,)).fetchone()[0]


def migrate(env: dict[str, str], *, cwd: Path = ROOT) -> None:
    """`manage.py migrate` in a child process with settings from `env`."""
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=cwd,
        env=child_environment(env),
        check=True,
        timeout=300,
    )


@contextmanager
def migrated_database(
    admin_url: str, name: str, *, cwd: Path = ROOT, env: dict[str, str] | None = None
) -> Iterator[str]:
    """
    Create database `name` next to `admin_url`'s, migrate it (with `env` as the
    settings, DEBUG by default); drop it at exit.
    """
    with _connect(admin_url) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))
    try:
        migrate({**(env or {"DJANGO_DEBUG": "1"}), "DATABASE_URL": url}, cwd=cwd)
        yield url
    finally:
        with _connect(admin_url) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
