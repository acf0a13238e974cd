"""
The Django and asgiref releases the fast handler is tested on.

The handler relies on internals of both (asgiref's _restore_context and
SyncToAsync.threadlocal, Django's read_body, create_request, run_get_response
and send_response), which either may change in any release. On a release not
listed here get_asgi_application() warns once at start-up and returns Django's
own handler: slower, never wrong. Add a release here only once the package's
tests pass on it (the Makefile's test-django-newest leg runs the newest Django).
"""

import asgiref
import django

# Feature releases (major, minor): any patch release of them counts.
TESTED_DJANGO: tuple[tuple[int, int], ...] = ((5, 2), (6, 1))
TESTED_ASGIREF: tuple[tuple[int, int], ...] = ((3, 13),)


def feature_release(version: str) -> tuple[int, int]:
    """(3, 13) for "3.13.0"; (-1, -1) for what does not start with two numbers."""
    try:
        major, minor = version.split(".")[:2]
        return int(major), int(minor)
    except ValueError:
        return -1, -1


def _listed(releases: tuple[tuple[int, int], ...]) -> str:
    return ", ".join(f"{major}.{minor}" for major, minor in releases)


def untested_versions() -> str | None:
    """What is installed outside the tested releases, said for a warning; None
    when both Django and asgiref are tested ones."""
    untested = []
    if tuple(django.VERSION[:2]) not in TESTED_DJANGO:
        untested.append(
            f"Django {django.get_version()} (tested: {_listed(TESTED_DJANGO)})"
        )
    if feature_release(asgiref.__version__) not in TESTED_ASGIREF:
        untested.append(
            f"asgiref {asgiref.__version__} (tested: {_listed(TESTED_ASGIREF)})"
        )
    return " and ".join(untested) or None
