"""What project/asgi.py wraps around Django: HTTP/3 header names, proxy headers."""

from asgiref.testing import ApplicationCommunicator

from apps.core.tests.test_settings import PRODUCTION, run_python
from project.asgi import application


async def test_the_projects_http3_responses_carry_lower_case_header_names():
    """project/asgi.py wraps Django in the kit's HTTP/3 header fix (tested in
    packages/django-asgi-kit/tests/test_http3.py)."""
    scope = {
        "type": "http",
        "http_version": "3",
        "method": "GET",
        "scheme": "https",
        "path": "/healthz",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
    }
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output()
    await communicator.wait()
    names = [name for name, _ in start["headers"]]
    assert b"content-type" in names
    assert names == [name.lower() for name in names]


SHOW_APPLICATION = """
import project.asgi as asgi
app = asgi.application
print(type(app).__name__, getattr(app, "trusted_hosts", None) is not None)
"""


def test_trusted_proxies_wrap_the_application_in_proxy_headers_middleware():
    env = {**PRODUCTION, "DJANGO_TRUSTED_PROXIES": "127.0.0.1,10.0.0.0/8"}
    result = run_python(SHOW_APPLICATION, env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ProxyHeadersMiddleware", "True"]


def test_without_trusted_proxies_no_forwarded_header_is_believed():
    result = run_python(SHOW_APPLICATION, PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ProtocolTypeRouter", "False"]
