"""
apps/bench over the wire: the servers add the Server and Date headers the
TechEmpower rules require (Django adds neither), and every endpoint conforms.
"""

import httpx
import pytest

from apps.bench.contract import FLAVOURS, TEST_TYPES, response_problems
from testing.environments import SERVERS

pytestmark = pytest.mark.servers

# Daphne (and its runserver) send no Date header (daphne 4.2): the one rule of
# the contract the server, not the project, breaks. Kept as an assertion so a
# daphne that adds it is noticed.
KNOWN_LIMITATIONS = {"daphne": ["no Date header"], "runserver": ["no Date header"]}


def problems_of(base_url: str, flavours: tuple[str, ...]) -> dict[str, list[str]]:
    found = {}
    with httpx.Client(base_url=base_url, timeout=10) as http:
        for name, test in TEST_TYPES.items():
            for flavour in flavours:
                response = http.get(test.path(flavour))
                found[f"{name} ({flavour})"] = response_problems(
                    name, response.status_code, dict(response.headers), response.content
                )
    return found


def test_every_endpoint_conforms_on_every_asgi_server(server):
    problems = problems_of(server.url, FLAVOURS)
    expected = KNOWN_LIMITATIONS.get(server.variant.name, [])
    assert problems == {key: expected for key in problems}


def test_the_wsgi_reference_conforms_too(shared_env, run_server):
    server = run_server(SERVERS["gunicorn-wsgi"], shared_env)
    problems = problems_of(server.url, ("sync",))
    assert problems == {key: [] for key in problems}
