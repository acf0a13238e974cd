"""The server variants under test and the production settings they run with."""

from serving.registry import load_servers

SERVERS = load_servers()
SECRET_KEY = "process-tests-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"


def base_environment() -> dict[str, str]:
    """Production settings, but over plain HTTP on loopback."""
    return {
        "DJANGO_SECRET_KEY": SECRET_KEY,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        # The conformance suite's endpoints (apps/core/probes.py).
        "DJANGO_PROBES": "true",
        # Short, so that a dead connection leaves the presence list within ~2 s.
        "DJANGO_CHAT_PRESENCE_HEARTBEAT": "0.5",
    }
