"""
Server processes for the benchmark: the registry's own commands, pinned to a
core with taskset, serving either the project or the raw ASGI app.

The raw app is started by swapping the application target in the registry's
argv, so it runs under exactly the flags the project runs under.
"""

from pathlib import Path

import httpx
import psutil

from serving.devcert import trusting_context
from serving.processes import ROOT, ServerProcess
from serving.registry import ServerVariant, TLSFiles

PROJECT_TARGET = "project.asgi:application"
RAW_TARGET = "bench.raw_app:application"


def with_application(argv: list[str], target: str) -> list[str]:
    """`argv` with the project's ASGI application replaced by `target`."""
    if argv.count(PROJECT_TARGET) != 1:
        raise ValueError(
            f"Expected {PROJECT_TARGET} exactly once in {' '.join(argv)!r}; the raw "
            "app can only be started on ASGI servers of deploy/servers.toml."
        )
    return [target if arg == PROJECT_TARGET else arg for arg in argv]


class BenchServer(ServerProcess):
    """A registry server pinned to `cpu`, serving the project or the raw app."""

    def __init__(
        self,
        variant: ServerVariant,
        env: dict[str, str],
        *,
        app: str = "django",
        tls: TLSFiles | None = None,
        http3: bool = False,
        cpu: int = 0,
        cwd: Path = ROOT,
    ) -> None:
        super().__init__(variant, env, tls=tls, http3=http3)
        self.app = app
        self.cpu = cpu
        self.cwd = cwd

    def command(self) -> list[str]:
        """taskset -c CPU <the registry's argv, with the raw app if asked>."""
        argv = super().command()
        if self.app == "raw":
            argv = with_application(argv, RAW_TARGET)
        return ["taskset", "-c", str(self.cpu), *argv]

    def answers_health(self) -> bool:
        """Whether GET /healthz answers 200, trusting the development CA over TLS."""
        verify = trusting_context() if self.tls else True
        try:
            response = httpx.get(f"{self.url}/healthz", timeout=1, verify=verify)
        except httpx.TransportError:
            return False
        return response.status_code == 200

    def processes(self) -> list[psutil.Process]:
        """The server's process and every child (gunicorn's workers)."""
        if self.process is None:
            return []
        root = psutil.Process(self.process.pid)
        return [root, *root.children(recursive=True)]
