"""
TLS and protocol negotiation on every server: HTTPS and WSS, HTTP/2 by ALPN and
in cleartext (h2c), HTTP/3 over QUIC and its alt-svc advertisement. What the
registry declares (protocols, tls_protocols) is what each check expects.
"""

import dataclasses
import re
import shlex
import socket
import ssl
import subprocess

import httpx
import pytest

from serving.capabilities import BROKEN, SUPPORTED, UNSUPPORTED
from serving.processes import HOST, ROOT, ServerProcess, child_environment
from tests.conformance.checks import SERVERS, speaks_websocket, websocket_once
from tests.conformance.h3 import H3Error, h3_get

pytestmark = pytest.mark.conformance

TIMEOUT = 10
# No QUIC listener answers nothing at all: wait this long, then call it absent.
QUIC_TIMEOUT = 3


def handshake(port: int, context: ssl.SSLContext) -> tuple[str, str | None]:
    """TLS version and ALPN protocol a server agrees to, offered h2 and http/1.1."""
    context.set_alpn_protocols(["h2", "http/1.1"])
    with socket.create_connection((HOST, port), timeout=TIMEOUT) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            return tls.version(), tls.selected_alpn_protocol()


def command_help(server_name: str, env: dict[str, str]) -> str:
    """`--help` of the server's command (the part before the first placeholder)."""
    command = SERVERS[server_name].command.split("{", 1)[0]
    result = subprocess.run(
        [*shlex.split(command), "--help"],
        cwd=ROOT,
        env=child_environment(env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.stdout + result.stderr


def test_tls(tls_server, server_name, dev_tls, shared_env, record):
    """TLS: HTTPS (and WSS) with the development certificate"""
    if tls_server is None:
        options = command_help(server_name, shared_env)
        cell = record(UNSUPPORTED, "no TLS option (development server)")
        # The known limitation, checked where it lives: the command's options.
        assert not SERVERS[server_name].supports_tls, cell
        assert "usage:" in options and not re.search("cert|ssl|tls", options, re.I)
        return
    version, _ = handshake(tls_server.port, dev_tls.client_context())
    with httpx.Client(verify=dev_tls.client_context(), timeout=TIMEOUT) as http:
        response = http.get(f"{tls_server.url}/healthz")
    assert response.status_code == 200, response
    if speaks_websocket(server_name):
        context = dev_tls.client_context()
        reply = websocket_once(tls_server, "/ws/echo/", send="tls", ssl_context=context)
        assert reply.message == "tls"
        cell = record(SUPPORTED, f"HTTPS and WSS, {version}")
    else:
        cell = record(SUPPORTED, f"HTTPS, {version} (no WebSocket under WSGI)")
    assert cell.status == SUPPORTED


def assert_nothing_over_tls(record, declared: bool, detail: str) -> None:
    """A server without a TLS command: the registry must not declare TLS protocols."""
    cell = record(UNSUPPORTED, detail)
    assert not declared, cell


def test_http2_alpn(tls_server, server_name, dev_tls, record):
    """HTTP/2 over TLS, chosen by ALPN"""
    declared = "h2" in SERVERS[server_name].tls_protocols
    if tls_server is None:
        assert_nothing_over_tls(record, declared, "no TLS, so no ALPN")
        return
    _, alpn = handshake(tls_server.port, dev_tls.client_context())
    if alpn != "h2":
        cell = record(UNSUPPORTED, f"ALPN chose {alpn or 'nothing'}: HTTP/1.1 only")
    else:
        with httpx.Client(
            http2=True, verify=dev_tls.client_context(), timeout=TIMEOUT
        ) as http:
            response = http.get(f"{tls_server.url}/")
        if (response.http_version, response.status_code) == ("HTTP/2", 200):
            cell = record(SUPPORTED, "ALPN h2; pages served over HTTP/2")
        else:
            cell = record(BROKEN, f"ALPN h2, then {response.http_version} {response}")
    assert (cell.status == SUPPORTED) == declared, cell


def test_h2c_prior_knowledge(server, server_name, record):
    """HTTP/2 in cleartext (h2c) with prior knowledge"""
    declared = "h2c" in SERVERS[server_name].protocols
    try:
        with httpx.Client(http1=False, http2=True, timeout=TIMEOUT) as http:
            response = http.get(f"{server.url}/healthz")
    except httpx.TransportError:
        # Closed or reset: which of the two the client sees first is a race.
        cell = record(UNSUPPORTED, "the HTTP/2 preface gets the connection closed")
    else:
        if (response.http_version, response.status_code) == ("HTTP/2", 200):
            cell = record(SUPPORTED, "HTTP/2 without TLS")
        else:
            cell = record(BROKEN, f"{response.http_version} {response.status_code}")
    assert (cell.status == SUPPORTED) == declared, cell


def curl_http_version(url: str, *options: str) -> str:
    """The HTTP version curl ended up using for `url`."""
    result = subprocess.run(
        ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_version}", *options, url],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


# granian speaks h2c only with prior knowledge; hypercorn also upgrades.
H2C_UPGRADE = {"hypercorn"}


def test_h2c_upgrade(server, server_name, record):
    """HTTP/2 in cleartext (h2c) by Upgrade from HTTP/1.1"""
    version = curl_http_version(f"{server.url}/healthz", "--http2")
    if version == "2":
        cell = record(SUPPORTED, "Upgrade: h2c answered with 101, then HTTP/2")
    else:
        cell = record(UNSUPPORTED, f"Upgrade: h2c ignored, answered in HTTP/{version}")
    assert (cell.status == SUPPORTED) == (server_name in H2C_UPGRADE), cell


def test_http3(tls_server, server_name, dev_tls, record):
    """HTTP/3 over QUIC"""
    declared = "h3" in SERVERS[server_name].tls_protocols
    if tls_server is None:
        assert_nothing_over_tls(record, declared, "no TLS, so no QUIC")
        return
    try:
        page = h3_get(
            HOST, tls_server.port, "/", ca_file=dev_tls.ca_file, timeout=QUIC_TIMEOUT
        )
    except TimeoutError:
        cell = record(UNSUPPORTED, f"no QUIC answer on UDP within {QUIC_TIMEOUT} s")
    except H3Error as exc:
        cell = record(BROKEN, str(exc))
    else:
        if page.status == 200 and b"Django on ASGI" in page.body:
            cell = record(SUPPORTED, "pages over QUIC (with django_asgi_kit.http3)")
        else:
            cell = record(BROKEN, f"answered {page.status}")
    assert (cell.status == SUPPORTED) == declared, cell


def test_alt_svc(tls_server, server_name, dev_tls, record):
    """alt-svc advertises HTTP/3"""
    declared = "h3" in SERVERS[server_name].tls_protocols
    if tls_server is None:
        assert_nothing_over_tls(record, declared, "no TLS, so nothing to advertise")
        return
    with httpx.Client(verify=dev_tls.client_context(), timeout=TIMEOUT) as http:
        advertised = http.get(f"{tls_server.url}/healthz").headers.get("alt-svc")
    if advertised is None:
        cell = record(UNSUPPORTED, "no alt-svc header")
    elif f'h3=":{tls_server.port}"' in advertised:
        cell = record(SUPPORTED, 'h3 on the same port (alt-svc: h3=":<port>")')
    else:
        cell = record(BROKEN, f"alt-svc without h3 on this port: {advertised}")
    assert (cell.status == SUPPORTED) == declared, cell


def test_django_over_http3_needs_lowercase_header_names(shared_env, dev_tls):
    """
    Without django_asgi_kit.http3, hypercorn passes Django's "Content-Type" to
    aioquic as it is, and the HTTP/3 client rejects the response as malformed.
    If this starts to pass, hypercorn (or Django) fixed it and the wrapper can go.
    """
    variant = SERVERS["hypercorn"]
    bare = dataclasses.replace(
        variant,
        tls_command=variant.tls_command.replace(
            "project.asgi:application", "tests.conformance.bare_asgi:application"
        ),
    )
    server = ServerProcess(bare, shared_env, tls=dev_tls.files, http3=True)
    try:
        server.start()
        with pytest.raises(H3Error, match="Content-Type"):
            h3_get(HOST, server.port, "/healthz", ca_file=dev_tls.ca_file)
    finally:
        server.close()
