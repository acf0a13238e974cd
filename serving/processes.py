"""
Start server variants of deploy/servers.toml on free loopback ports, wait until
they are ready, stop them by PID: what the tests and the benchmark share.

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

from serving.registry import ROOT, ServerVariant, TLSFiles

HOST = "127.0.0.1"


# Ports free_port() gave out: the OS may offer a port again once its probe is
# closed, and servers launched together (start_all) must not share one (a CI
# run lost its conformance tier to "Address already in use" that way).
_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A TCP port nothing listens on right now (the OS picks it), never twice."""
    while True:
        with socket.socket() as probe:
            probe.bind((HOST, 0))
            port = probe.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def child_environment(overrides: dict[str, str]) -> dict[str, str]:
    """A clean environment: PATH with this virtualenv first, plus `overrides`."""
    venv_bin = str(Path(sys.executable).parent)
    base = {
        "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": os.environ.get("HOME", "/tmp"),
        "PYTHONUNBUFFERED": "1",
    }
    return {**base, **overrides}


class ChildProcess:
    """A command run from the repository root, its output kept, killable by PID."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = child_environment(env)
        self.log = tempfile.TemporaryFile()
        self.process: subprocess.Popen[bytes] | None = None
        # Where the command runs; the benchmark's compare mode points it elsewhere.
        self.cwd = ROOT

    def spawn(self, argv: list[str]) -> None:
        # A session of its own, so kill() reaches worker processes too.
        self.process = subprocess.Popen(
            argv,
            cwd=self.cwd,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to clean up, like a crash."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def close(self) -> None:
        """Kill the process if it still runs and release its log."""
        self.kill()
        self.log.close()

    def output(self) -> str:
        """Everything the process printed so far."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")


class ServerProcess(ChildProcess):
    """One server variant running as a child process on its own port."""

    def __init__(
        self,
        variant: ServerVariant,
        env: dict[str, str],
        tls: TLSFiles | None = None,
        http3: bool = False,
        workers: int = 1,
    ) -> None:
        super().__init__(env)
        self.variant = variant
        self.tls = tls
        self.http3 = http3
        self.workers = workers
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{HOST}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"{'wss' if self.tls else 'ws'}://{HOST}:{self.port}"

    def start(self, timeout: float = 30.0) -> "ServerProcess":
        """Start, then wait until /healthz answers; raise with the output if not."""
        return self.launch().wait_ready(timeout)

    def command(self) -> list[str]:
        """The argv that launch() runs (the benchmark wraps and changes it)."""
        return self.variant.argv(
            host=HOST,
            port=self.port,
            tls=self.tls,
            http3=self.http3,
            workers=self.workers,
        )

    def answers_health(self) -> bool:
        """Whether GET /healthz answers 200 right now."""
        try:
            # Readiness only: the tests that use TLS verify the certificate.
            response = httpx.get(f"{self.url}/healthz", timeout=1, verify=False)
        except httpx.TransportError:
            return False
        return response.status_code == 200

    def launch(self) -> "ServerProcess":
        """Start the process without waiting for it (see start_all)."""
        self.spawn(self.command())
        return self

    def wait_ready(self, timeout: float = 30.0) -> "ServerProcess":
        """Wait until /healthz answers 200; raise with the output if it does not."""
        assert self.process is not None, "launch() first"
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


def start_all(servers: list[ServerProcess], timeout: float = 60.0) -> None:
    """Launch every server at once, then wait for each: start-ups overlap."""
    for server in servers:
        server.launch()
    for server in servers:
        server.wait_ready(timeout)
