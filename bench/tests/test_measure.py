"""Reading the server's costs from /proc."""

import subprocess
import sys

import psutil

from bench.measure import wait_until_idle


def children_of(process: subprocess.Popen):
    return lambda: [psutil.Process(process.pid)]


def test_an_idle_server_is_not_waited_for():
    idle = subprocess.Popen(["sleep", "30"])
    try:
        assert wait_until_idle(children_of(idle), limit=5) < 2
    finally:
        idle.kill()
        idle.wait()


def test_a_busy_server_is_waited_for_up_to_the_limit():
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        assert wait_until_idle(children_of(busy), limit=0.6) >= 0.6
    finally:
        busy.kill()
        busy.wait()
