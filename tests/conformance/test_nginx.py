"""
nginx in front (deploy/nginx/default.conf.template, run by Debian's nginx): for
every server, two app processes started with DJANGO_TRUSTED_PROXIES behind one
nginx that terminates TLS and HTTP/2. The app must see the client's scheme and
address, WebSockets must survive the upgrade, and both processes get requests.

The client connects from 127.0.0.2 and nginx from 127.0.0.1, so the address
the app reports tells which one it believes.
"""

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from django.conf import settings
from django.contrib.staticfiles.storage import staticfiles_storage
from uvicorn.config import Config

from serving.capabilities import BROKEN, SUPPORTED, UNSUPPORTED
from serving.nginx import TEMPLATE, NginxProcess, render_template
from serving.processes import HOST, ROOT, ServerProcess, free_port, start_all
from tests.conformance.checks import (
    SERVERS,
    assert_websocket_refused,
    speaks_websocket,
    websocket_once,
)
from tests.conformance.conftest import servers_in_session
from tests.conformance.wire import request

pytestmark = pytest.mark.conformance

CLIENT = "127.0.0.2"
TIMEOUT = 10


@dataclass
class Fronted:
    nginx: NginxProcess
    apps: list[ServerProcess]


@pytest.fixture(scope="module")
def fronted(request, shared_env, dev_tls) -> Iterator[dict[str, Fronted]]:
    """Per server: two app processes and an nginx in front of them."""
    names = servers_in_session(request.session)
    env = {**shared_env, "DJANGO_TRUSTED_PROXIES": HOST}
    apps = {name: [ServerProcess(SERVERS[name], env) for _ in "12"] for name in names}
    proxies: list[NginxProcess] = []
    try:
        start_all([app for pair in apps.values() for app in pair])
        for name in names:
            upstreams = [f"{HOST}:{app.port}" for app in apps[name]]
            proxies.append(
                NginxProcess(upstreams, dev_tls.files, settings.STATIC_ROOT).start()
            )
        yield {
            name: Fronted(proxy, apps[name])
            for name, proxy in zip(names, proxies, strict=True)
        }
    finally:
        for proxy in proxies:
            proxy.close()
        for pair in apps.values():
            for app in pair:
                app.close()


def client(dev_tls) -> httpx.Client:
    """An HTTP/2-capable client connecting from CLIENT, trusting the dev CA."""
    transport = httpx.HTTPTransport(
        http2=True, verify=dev_tls.client_context(), local_address=CLIENT
    )
    return httpx.Client(transport=transport, timeout=TIMEOUT)


def test_nginx_client_scheme_and_address(fronted, server_name, dev_tls, record):
    """Behind nginx: the app sees https and the client's address"""
    nginx = fronted[server_name].nginx
    with client(dev_tls) as http:
        response = http.get(f"{nginx.url}/scope.json")
    scope = response.json()["scope"]
    assert response.http_version == "HTTP/2", "nginx terminates HTTP/2"
    seen = (scope["scheme"], scope["client"][0])
    if seen == ("https", CLIENT):
        cell = record(SUPPORTED, "https and the client's address (h2 in, 1.1 out)")
    elif seen == ("http", HOST):
        cell = record(UNSUPPORTED, "http and nginx's address: the proxy is not trusted")
    else:
        cell = record(BROKEN, f"scheme {seen[0]}, client {seen[1]}")
    if SERVERS[server_name].interface == "wsgi":
        # DJANGO_TRUSTED_PROXIES wraps the ASGI application only, and gunicorn's
        # own forwarded_allow_ips is off (deploy/gunicorn/gunicorn.conf.py).
        assert cell.status == UNSUPPORTED, cell
    else:
        assert cell.status == SUPPORTED, cell


def test_nginx_websocket(fronted, server_name, dev_tls, record):
    """Behind nginx: WebSocket upgrade, with wss and the client's address"""
    nginx = fronted[server_name].nginx
    if not speaks_websocket(server_name):
        assert_websocket_refused(nginx, record, ssl_context=dev_tls.client_context())
        return
    options = {"ssl_context": dev_tls.client_context(), "local_host": CLIENT}
    scope = json.loads(websocket_once(nginx, "/ws/scope/", **options).message)
    echoed = websocket_once(nginx, "/ws/echo/", send="through nginx", **options)
    seen = (scope["scope"].get("scheme"), scope["scope"]["client"][0], echoed.message)
    if seen == ("wss", CLIENT, "through nginx"):
        cell = record(SUPPORTED, "upgraded; echo works; wss and the client's address")
    else:
        cell = record(BROKEN, f"scheme {seen[0]}, client {seen[1]}, echo {seen[2]!r}")
    assert cell.status == SUPPORTED, cell


def test_nginx_load_balancing(fronted, server_name, dev_tls, record):
    """Behind nginx: both app processes receive requests"""
    nginx = fronted[server_name].nginx
    with client(dev_tls) as http:
        replicas = {
            http.get(f"{nginx.url}/scope.json").json()["replica"] for _ in range(6)
        }
    if len(replicas) == 2:
        cell = record(SUPPORTED, "6 requests answered by both processes")
    else:
        cell = record(BROKEN, f"6 requests answered by {len(replicas)} process(es)")
    assert cell.status == SUPPORTED, cell


H2C_UPGRADE = [
    ("Upgrade", "h2c"),
    ("Connection", "Upgrade, HTTP2-Settings"),
    ("HTTP2-Settings", "AAMAAABkAARAAAAAAAIAAAAA"),
]


def test_nginx_h2c_upgrade_is_not_passed_on(fronted, server_name, dev_tls, record):
    """Behind nginx: a client's Upgrade: h2c is not passed on (h2c smuggling)"""
    nginx = fronted[server_name].nginx
    context = dev_tls.client_context()
    response = request(nginx.port, "/healthz", headers=H2C_UPGRADE, context=context)
    if response.status == 101:
        cell = record(BROKEN, "101: the client talks HTTP/2 to the app, past nginx")
    else:
        cell = record(SUPPORTED, f"{response.status}: only WebSocket upgrades pass")
    assert cell.status == SUPPORTED, cell


def test_nginx_serves_static_files_without_the_app(dev_tls):
    """Static files come from STATIC_ROOT through nginx, even with no app running."""
    nowhere = [f"{HOST}:{free_port()}", f"{HOST}:{free_port()}"]
    nginx = NginxProcess(nowhere, dev_tls.files, settings.STATIC_ROOT).start()
    try:
        hashed_name = staticfiles_storage.stored_name("core/site.css")
        stylesheet = f"{nginx.url}/static/{hashed_name}"
        with client(dev_tls) as http:
            hashed = http.get(stylesheet, headers={"Accept-Encoding": "gzip"})
            plain = http.get(f"{nginx.url}/static/core/site.css")
            page = http.get(f"{nginx.url}/")
    finally:
        nginx.close()
    assert hashed.status_code == 200 and hashed.http_version == "HTTP/2"
    assert hashed.headers["content-type"] == "text/css"
    assert hashed.headers["content-encoding"] == "gzip"  # collectstatic's .gz copy
    assert "immutable" in hashed.headers["cache-control"]
    assert plain.headers["cache-control"] == "public, max-age=3600"
    assert page.status_code == 502  # the app is not there: nginx says so


def app_keep_alive_seconds() -> dict[str, float]:
    """Idle keep-alive of the app servers whose configs set one."""
    gunicorn: dict = {}
    exec((ROOT / "deploy" / "gunicorn" / "gunicorn.conf.py").read_text(), gunicorn)
    hypercorn = (ROOT / "deploy" / "hypercorn" / "hypercorn.toml").read_text()
    return {
        "gunicorn": gunicorn["keepalive"],
        "hypercorn": float(re.search(r"keep_alive_timeout = (\d+)", hypercorn)[1]),
        "uvicorn (default)": Config(app=None).timeout_keep_alive,
    }


def test_nginx_drops_idle_upstream_connections_before_the_app_does():
    """Else nginx may send a request on a connection the app is closing (502)."""
    template = TEMPLATE.read_text()
    nginx_seconds = float(re.search(r"keepalive_timeout (\d+)s;", template)[1])
    for server, seconds in app_keep_alive_seconds().items():
        assert nginx_seconds < seconds, server


def test_template_placeholders_must_all_be_given():
    with pytest.raises(KeyError, match="NGINX_APP_SERVER_2"):
        render_template(
            TEMPLATE.read_text(),
            {
                name: "x"
                for name in re.findall(r"\$\{([A-Z0-9_]+)\}", TEMPLATE.read_text())
                if name != "NGINX_APP_SERVER_2"
            },
        )
