"""What a result depends on besides the code: the machine and every version."""

import importlib.metadata
import os
import platform
import re
import socket
import subprocess
from pathlib import Path
from typing import Any

import psutil
import psycopg
import redis

PACKAGES = (
    "Django",
    "channels",
    "channels-redis",
    "redis",
    "psycopg",
    "daphne",
    "Twisted",
    "uvicorn",
    "uvloop",
    "httptools",
    "gunicorn",
    "uvicorn-worker",
    "hypercorn",
    "granian",
    "picows",
)
TOOLS = {"wrk": ["wrk", "-v"], "h2load": ["h2load", "--version"]}


def _cpu_model() -> str:
    text = Path("/proc/cpuinfo").read_text()
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    return match.group(1).strip() if match else platform.processor() or "unknown"


def machine_name() -> str:
    """The host name, made safe for a folder name."""
    return re.sub(r"[^a-z0-9-]+", "-", socket.gethostname().lower()).strip("-")


def describe_machine() -> dict[str, Any]:
    """CPU, memory, kernel, file limit and how busy the machine is now."""
    cpus = os.cpu_count() or 1
    memory_gib = psutil.virtual_memory().total / 2**30
    model = _cpu_model()
    return {
        "hostname": machine_name(),
        "cpu_model": model,
        "cpus": cpus,
        "memory_gib": round(memory_gib, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "description": (
            f"{cpus} × {model}, {memory_gib:.0f} GiB, Linux {platform.release()}"
        ),
        "load_average": list(os.getloadavg()),
    }


def _tool_version(argv: list[str]) -> str:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except OSError as exc:
        return f"missing: {exc}"
    return (result.stdout + result.stderr).strip().splitlines()[0]


def versions(database_url: str, redis_url: str) -> dict[str, str]:
    """Python packages, load generators, PostgreSQL and Redis."""
    found = {name: importlib.metadata.version(name) for name in PACKAGES}
    found |= {name: _tool_version(argv) for name, argv in TOOLS.items()}
    with psycopg.connect(database_url) as connection:
        found["PostgreSQL"] = connection.execute("SHOW server_version").fetchone()[0]
    client = redis.Redis.from_url(redis_url)
    found["Redis"] = client.info("server")["redis_version"]
    client.close()
    return found
