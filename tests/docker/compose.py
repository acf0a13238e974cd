"""
Drive docker-compose.yml through the `docker compose` CLI, as a person would.

Each Stack is one compose project with a name of its own, its own images and
free loopback ports, so a test run never touches another run's containers.
"""

import json
import os
import secrets
import shutil
import ssl
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from serving.processes import HOST, ROOT, free_port
from serving.registry import load_servers

SERVERS = load_servers()
# The servers the stack runs: every ASGI server that is not development-only.
STACK_SERVERS = [
    name
    for name, variant in SERVERS.items()
    if variant.interface == "asgi" and not variant.development
]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
# Published-port variables of docker-compose.yml, by service.
PORT_VARIABLES = {
    "nginx": "NGINX_PORT",
    "daphne": "DAPHNE_PORT",
    "gunicorn-uvicorn": "GUNICORN_UVICORN_PORT",
    "gunicorn-asgi": "GUNICORN_ASGI_PORT",
    "hypercorn": "HYPERCORN_PORT",
    "granian": "GRANIAN_PORT",
    "prometheus": "PROMETHEUS_PORT",
}
# The images a Stack builds, by the variable that names them.
IMAGE_VARIABLES = ("APP_IMAGE", "NGINX_IMAGE", "BENCH_IMAGE", "PROMETHEUS_IMAGE")


def engine_problem() -> str | None:
    """Why `docker compose` cannot run here, or None when it can."""
    if shutil.which("docker") is None:
        return "no `docker` command on PATH"
    for argv in (["docker", "info"], ["docker", "compose", "version"]):
        try:
            subprocess.run(argv, capture_output=True, check=True, timeout=30)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            output = getattr(exc, "stderr", b"") or b""
            return f"`{' '.join(argv)}` failed: {output.decode(errors='replace')}"
    return None


def ha_environment() -> dict[str, str]:
    """The commented-out block of .env.example that turns the profile on, so
    the test runs what the file tells people to write."""
    lines = ENV_EXAMPLE.read_text().split('profile "ha"', 1)[1].splitlines()
    settings = [line.removeprefix("#") for line in lines if line.startswith("#")]
    return dict(setting.split("=", 1) for setting in settings if "=" in setting)


@dataclass(frozen=True)
class Endpoint:
    """Where one published service answers, seen from the host."""

    url: str
    ws_url: str
    ca_file: Path | None = None

    def ssl_context(self) -> ssl.SSLContext | None:
        """A new context trusting the stack's CA, or None for plain HTTP.

        New each time: httpx sets ALPN (h2) on the context it is given, which
        would make a WebSocket client sharing it speak HTTP/1.1 into HTTP/2.
        """
        if self.ca_file is None:
            return None
        return ssl.create_default_context(cafile=self.ca_file)


class Stack:
    """One compose project built from this repository."""

    def __init__(self, environment: dict[str, str] | None = None) -> None:
        """`environment`: variables docker-compose.yml reads, over the defaults."""
        self.project = f"djasgi-test-{uuid.uuid4().hex[:8]}"
        # .env.example supplies the documented defaults; these override it.
        self.env = {
            **os.environ,
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "POSTGRES_PASSWORD": secrets.token_urlsafe(20),
            **{
                variable: f"{self.project}-{variable.removesuffix('_IMAGE').lower()}"
                for variable in IMAGE_VARIABLES
            },
            "BIND_ADDRESS": HOST,
            **{variable: str(free_port()) for variable in PORT_VARIABLES.values()},
            **(environment or {}),
        }
        self._ca_file: Path | None = None

    def compose(self, *args: str, timeout: float = 120) -> str:
        """Run `docker compose ARGS` for this project; raise with its output."""
        argv = ["docker", "compose", "--project-name", self.project]
        argv += ["--file", str(COMPOSE_FILE), "--env-file", str(ENV_EXAMPLE), *args]
        result = subprocess.run(
            argv,
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(argv)} exited with {result.returncode}:\n"
                f"{result.stdout}{result.stderr}"
            )
        return result.stdout

    def container_ids(self, service: str) -> list[str]:
        """IDs of the service's containers, running or not, by replica number."""
        return self.compose("ps", "--all", "--quiet", service).split()

    def inspect(self, container: str) -> dict:
        """`docker inspect` of one container."""
        output = subprocess.run(
            ["docker", "inspect", container],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout
        return json.loads(output)[0]

    def published_port(self, service: str, target: int, index: int = 1) -> int:
        """The host port a replica's container port is published on."""
        address = self.compose("port", "--index", str(index), service, str(target))
        return int(address.strip().rsplit(":", 1)[1])

    def endpoint(self, service: str, target: int = 8000, tls: bool = False) -> Endpoint:
        """The service as a client on this machine reaches it."""
        port = self.published_port(service, target)
        if not tls:
            return Endpoint(f"http://{HOST}:{port}", f"ws://{HOST}:{port}")
        return Endpoint(
            f"https://{HOST}:{port}", f"wss://{HOST}:{port}", self.ca_file()
        )

    def ca_file(self) -> Path:
        """The development CA the certs service made, copied out of its volume."""
        if self._ca_file is None:
            path = Path(tempfile.gettempdir()) / f"{self.project}-ca.pem"
            self.compose("cp", "certs:/app/var/tls/ca.pem", str(path))
            self._ca_file = path
        return self._ca_file

    def logs(self) -> str:
        """Every container's output, for a failure report."""
        try:
            return self.compose("logs", "--no-color", "--timestamps", timeout=60)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            return f"(no logs: {exc})"

    def leftovers(self) -> dict[str, list[str]]:
        """Containers, volumes and networks of this project still present."""
        label = f"label=com.docker.compose.project={self.project}"
        listings = {
            "containers": ["docker", "ps", "--all", "--quiet", "--filter", label],
            "volumes": ["docker", "volume", "ls", "--quiet", "--filter", label],
            "networks": ["docker", "network", "ls", "--quiet", "--filter", label],
        }
        return {
            kind: subprocess.run(
                argv, capture_output=True, text=True, check=True, timeout=30
            ).stdout.split()
            for kind, argv in listings.items()
        }

    def remove(self) -> None:
        """Take everything down, volumes and this run's images included."""
        self.compose("down", "--volumes", "--remove-orphans", timeout=180)
        images = [self.env[variable] for variable in IMAGE_VARIABLES]
        # Only this run's tags: the layers stay cached for the next build.
        subprocess.run(["docker", "image", "rm", *images], capture_output=True)
        if self._ca_file is not None:
            self._ca_file.unlink(missing_ok=True)
