"""
Start real server processes on free loopback ports, and stop them by PID.

A server counts as started once GET /healthz answers 200. If the process exits
first, or the deadline passes, start() raises with what the server printed.
"""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from project.servers import ServerVariant

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def child_environment(overrides: dict[str, str]) -> dict[str, str]:
    """A clean environment: PATH with this virtualenv first, plus `overrides`."""
    venv_bin = str(Path(sys.executable).parent)
    base = {
        "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": os.environ.get("HOME", "/tmp"),
        "PYTHONUNBUFFERED": "1",
    }
    return {**base, **overrides}


class ServerProcess:
    """One server variant running as a child process on its own port."""

    def __init__(self, variant: ServerVariant, env: dict[str, str]) -> None:
        self.variant = variant
        self.port = free_port()
        self.env = child_environment(env)
        self.log = tempfile.TemporaryFile()
        self.process: subprocess.Popen[bytes] | None = None
        # Where the command runs; the benchmark's compare mode points it elsewhere.
        self.cwd = ROOT

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{HOST}:{self.port}"

    def command(self) -> list[str]:
        """The argv that start() runs (the benchmark wraps and changes it)."""
        return self.variant.argv(host=HOST, port=self.port)

    def answers_health(self) -> bool:
        """Whether GET /healthz answers 200 right now."""
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def start(self, timeout: float = 30.0) -> "ServerProcess":
        """Start, then wait until /healthz answers; raise with the output if not."""
        # A session of its own, so kill() reaches worker processes too.
        self.process = subprocess.Popen(
            self.command(),
            cwd=self.cwd,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.variant.name} exited with {self.process.returncode} "
                    f"before it was ready:\n{self.output()}"
                )
            if self.answers_health():
                return self
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(
            f"{self.variant.name} did not answer /healthz within {timeout} s:\n"
            f"{self.output()}"
        )

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, then SIGKILL after `timeout`; return the exit code."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise RuntimeError(
                f"{self.variant.name} ignored SIGTERM for {timeout} s:\n{self.output()}"
            ) from None

    def restart(self) -> "ServerProcess":
        """Stop gracefully and start again on the same port, as a deploy would."""
        self.stop()
        return self.start()

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to clean up, like a crash."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def close(self) -> None:
        """Kill the server if it still runs and release its log."""
        self.kill()
        self.log.close()

    def output(self) -> str:
        """Everything the server printed so far."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")
