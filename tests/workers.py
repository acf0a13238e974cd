"""
Start `python manage.py runworker <channel>` as a child process, like a server.

It has no port to probe, so it counts as started once it has logged that it
listens; a worker that exits first raises with its output.
"""

import os
import signal
import subprocess
import sys
import tempfile
import time

from tests.servers import ROOT, child_environment

READY = "Running worker for channels"


class WorkerProcess:
    """One Channels worker serving `channels` on the channel layer of `env`."""

    def __init__(self, env: dict[str, str], channels: tuple[str, ...]) -> None:
        self.argv = [sys.executable, "manage.py", "runworker", *channels]
        self.env = child_environment(env)
        self.log = tempfile.TemporaryFile()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 30.0) -> "WorkerProcess":
        self.process = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while READY not in self.output():
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"runworker exited with {self.process.returncode}:\n{self.output()}"
                )
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(
                    f"runworker not ready in {timeout} s:\n{self.output()}"
                )
            time.sleep(0.1)
        return self

    def kill(self) -> None:
        """SIGKILL, like a crash or an OOM kill: no cleanup runs."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def close(self) -> None:
        self.kill()
        self.log.close()

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")
