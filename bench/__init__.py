"""
The benchmark harness: `python -m bench` (see bench/README.md).

Starts each server of deploy/servers.toml on loopback, pinned to one core, and
measures the project's endpoints and a raw ASGI app on it from the other core.
"""
