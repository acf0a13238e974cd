"""Security headers and cookies with production settings."""

import pytest


@pytest.fixture
def production_security(settings):
    """What settings.py gives with DEBUG off and nothing overridden."""
    settings.SECURE_SSL_REDIRECT = True
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    settings.SECURE_HSTS_SECONDS = 3600


def test_plain_http_is_redirected_except_probes(client, production_security):
    response = client.get("/scope/")
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/scope/"
    assert client.get("/healthz").status_code == 200


def test_https_responses_carry_the_security_headers(client, production_security):
    response = client.get("/", secure=True)
    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == (
        "max-age=3600; includeSubDomains; preload"
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_the_csrf_cookie_is_secure_and_same_site(client, production_security):
    response = client.get("/accounts/login/", secure=True)
    csrf = response.cookies["csrftoken"]
    assert csrf["secure"] is True
    assert csrf["samesite"] == "Lax"
