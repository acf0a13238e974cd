"""
Start `python manage.py runworker <channel>` as a child process, like a server.

It has no port to probe, so it counts as started once it has logged that it
listens; a worker that exits first raises with its output.
"""

import sys
import time

from serving.processes import ChildProcess

READY = "Running worker for channels"


class WorkerProcess(ChildProcess):
    """One Channels worker serving `channels` on the channel layer of `env`."""

    def __init__(self, env: dict[str, str], channels: tuple[str, ...]) -> None:
        super().__init__(env)
        self.argv = [sys.executable, "manage.py", "runworker", *channels]

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 30.0) -> "WorkerProcess":
        self.spawn(self.argv)
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
