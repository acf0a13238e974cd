"""
Running a load generator against a server and reading both sides' costs:
client CPU from the kernel's rusage of the client process, server CPU and RSS
sampled from /proc (psutil) while the client runs.
"""

import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psutil

# A client using this share of its core or more limits the figure itself: the
# run is flagged client-bound and never reported as the server's number.
CLIENT_BOUND_CPU = 0.9
SAMPLE_INTERVAL = 0.1


@dataclass
class ClientRun:
    """What a finished client process printed and cost."""

    output: str
    started: float
    finished: float
    cpu_seconds: float
    returncode: int

    @property
    def wall(self) -> float:
        return self.finished - self.started


def run_client(argv: list[str], *, timeout: float) -> ClientRun:
    """Run `argv` to the end (killed after `timeout` s) and read its rusage."""
    with tempfile.TemporaryFile() as output:
        started = time.monotonic()
        process = subprocess.Popen(argv, stdout=output, stderr=subprocess.STDOUT)
        killer = threading.Timer(timeout, process.kill)
        killer.start()
        try:
            # wait4, unlike Popen.wait, also returns the child's CPU time.
            _, status, usage = os.wait4(process.pid, 0)
        except BaseException:
            # Interrupted (SIGINT, SIGTERM as SystemExit): no client left behind.
            process.kill()
            process.wait()
            raise
        finally:
            killer.cancel()
        finished = time.monotonic()
        process.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        text = output.read().decode(errors="replace")
    return ClientRun(
        output=text,
        started=started,
        finished=finished,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        returncode=process.returncode,
    )


@dataclass
class Sample:
    at: float
    cpu_seconds: float
    rss_bytes: int


def tree_sample(processes: list[psutil.Process]) -> Sample:
    """CPU seconds and RSS summed over a process tree, now."""
    cpu, rss = 0.0, 0
    for process in processes:
        try:
            times = process.cpu_times()
            cpu += times.user + times.system
            rss += process.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return Sample(at=time.monotonic(), cpu_seconds=cpu, rss_bytes=rss)


@dataclass
class UsageSampler:
    """Samples a server's process tree in a thread while a client runs."""

    processes: Callable[[], list[psutil.Process]]
    samples: list[Sample] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> "UsageSampler":
        self._tree = self.processes()
        self.samples.append(tree_sample(self._tree))
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_INTERVAL):
            self.samples.append(tree_sample(self._tree))

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append(tree_sample(self._tree))

    def cpu_share(self, start: float, end: float) -> float:
        """The server's CPU use between two instants, in cores."""
        inside = [s for s in self.samples if start <= s.at <= end]
        if len(inside) < 2:
            inside = [self.samples[0], self.samples[-1]]
        first, last = inside[0], inside[-1]
        return (last.cpu_seconds - first.cpu_seconds) / max(last.at - first.at, 1e-9)

    def peak_rss_mb(self) -> float:
        return max(sample.rss_bytes for sample in self.samples) / 2**20

    def server_figures(self, start: float, end: float) -> dict[str, float]:
        """The server's CPU (cores) between two instants and its peak RSS (MB)."""
        return {
            "server_cpu": self.cpu_share(start, end),
            "server_rss_mb": self.peak_rss_mb(),
        }


def wait_until_idle(
    processes: Callable[[], list[psutil.Process]],
    *,
    busy_below: float = 0.05,
    limit: float = 10.0,
) -> float:
    """
    Wait until the server uses under `busy_below` of a core over 0.2 s (at most
    `limit` s); return the seconds waited. A client that stops leaves requests
    queued in the server (a sync worker finishes every accepted one), which
    would otherwise eat the next window.
    """
    started = time.monotonic()
    tree = processes()
    before = tree_sample(tree)
    while time.monotonic() - started < limit:
        time.sleep(0.2)
        after = tree_sample(tree)
        used = (after.cpu_seconds - before.cpu_seconds) / (after.at - before.at)
        if used < busy_below:
            break
        before = after
    return time.monotonic() - started


def pinned(cpu: int, argv: list[str]) -> list[str]:
    """`argv` run on one core only."""
    return ["taskset", "-c", str(cpu), *argv]
