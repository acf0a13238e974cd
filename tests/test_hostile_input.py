"""
What a hostile or careless client sends, against the app in production mode
under every ASGI server: HEAD, oversized bodies, credentials in headers, the
probe endpoints; and what every response says about itself (CSP, nosniff).

Where servers differ on their own (a body they read before the app runs, a
client that never reads), the capability matrix measures it: tests/conformance.
"""

import os
import re

import httpx
import pytest

pytestmark = pytest.mark.servers

PAGES = ["/", "/chat/", "/echo/", "/scope/", "/live/", "/tasks/", "/servers/"]
MIB = 1024 * 1024


def test_head_answers_like_get_without_a_body(server):
    with httpx.Client(base_url=server.url, timeout=10) as http:
        for path in [*PAGES, "/healthz", "/readyz", "/scope.json"]:
            got, head = http.get(path), http.head(path)
            assert (head.status_code, head.content) == (200, b""), path
            assert head.headers["content-type"] == got.headers["content-type"], path


def test_pages_carry_a_strict_content_security_policy(server):
    with httpx.Client(base_url=server.url, timeout=10) as http:
        for path in PAGES:
            policy = http.get(path).headers["content-security-policy"]
            directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
            assert directives["script-src"] == "'self'", path
            assert directives["style-src"] == "'self'", path
            assert directives["frame-ancestors"] == "'none'", path
            assert "unsafe" not in policy, path


def test_static_files_are_not_sniffed(server):
    with httpx.Client(base_url=server.url, timeout=10) as http:
        home = http.get("/").text
        for asset in re.findall(r'(?:href|src)="(/static/[^"]+)"', home):
            response = http.get(asset)
            assert response.status_code == 200, asset
            assert response.headers["x-content-type-options"] == "nosniff", asset


def test_a_body_over_the_limit_is_refused_and_the_server_stays_healthy(server):
    with httpx.Client(base_url=server.url, timeout=30) as http:
        too_large = http.post("/probe/echo", content=os.urandom(3 * MIB))
        chunked = http.post("/probe/echo", content=iter([os.urandom(MIB)] * 3))
        assert (too_large.status_code, chunked.status_code) == (413, 413)
        assert too_large.text == "Request body over 2621440 bytes.\n"
        # Within the limit, the same endpoint still works.
        body = os.urandom(MIB)
        assert http.post("/probe/echo", content=body).content == body
        assert http.get("/healthz").status_code == 200


def test_scope_json_redacts_credentials_and_names_no_host(server):
    secrets = {
        "X-Auth-Token": "secret-a",
        "X-Access-Token": "secret-b",
        "X-Forwarded-Access-Token": "secret-c",
        "X-Amz-Security-Token": "secret-d",
    }
    with httpx.Client(base_url=server.url, timeout=10) as http:
        shown = http.get("/scope.json?api_key=secret-e", headers=secrets).json()
    assert "secret-" not in str(shown)
    assert "hostname" not in shown and "pid" not in shown
    assert re.fullmatch("[0-9a-f]{12}", shown["replica"])


def test_the_probes_are_off_unless_turned_on(variant, shared_env, run_server):
    env = {key: value for key, value in shared_env.items() if key != "DJANGO_PROBES"}
    server = run_server(variant, env)
    with httpx.Client(base_url=server.url, timeout=10) as http:
        assert http.get("/probe/stream?chunks=100&interval=1").status_code == 404
        assert http.post("/probe/echo", content=b"x").status_code == 404


def test_with_debug_on_static_files_need_no_collectstatic(
    variant, embedded_env, run_server, tmp_path
):
    """As runserver does: from each app's static/, STATIC_ROOT empty."""
    env = {**embedded_env, "DJANGO_DEBUG": "true", "DJANGO_STATIC_ROOT": str(tmp_path)}
    server = run_server(variant, env)
    with httpx.Client(base_url=server.url, timeout=10) as http:
        home = http.get("/").text
        assert 'href="/static/core/site.css"' in home
        css = http.get("/static/core/site.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert list(tmp_path.iterdir()) == []
