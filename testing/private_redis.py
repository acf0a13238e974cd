"""Redis servers (and a Sentinel) of the test's own, on free ports, that it may stop."""

import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from serving.processes import HOST, free_port


def answers(port: int, check: Callable[[redis.Redis], Any], timeout: float) -> bool:
    """Whether `check` of a client of the server on `port` holds within `timeout`."""
    with redis.Redis(host=HOST, port=port, socket_connect_timeout=1) as client:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if check(client):
                    return True
            except redis.ConnectionError:
                pass
            time.sleep(0.05)
    return False


class PrivateRedis:
    """redis-server in the foreground, nothing kept on disk; stop() is an outage."""

    def __init__(self, replica_of: "PrivateRedis | None" = None) -> None:
        self.port = free_port()
        self.url = f"redis://{HOST}:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        self.replica_of = replica_of

    def start(self, timeout: float = 10.0) -> "PrivateRedis":
        """Start (again, on the same port) and wait until it answers PING."""
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                HOST,
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                # A replica's sync goes over the socket: no dump.rdb in the cwd.
                "--repl-diskless-sync",
                "yes",
                "--repl-diskless-load",
                "swapdb",
                *(
                    ["--replicaof", HOST, str(self.replica_of.port)]
                    if self.replica_of
                    else []
                ),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        if answers(self.port, redis.Redis.ping, timeout):
            return self
        self.stop()
        raise RuntimeError(f"redis-server on port {self.port} did not answer PING")

    def client(self) -> redis.Redis:
        """A synchronous client of this server, for a test to look inside."""
        return redis.Redis(host=HOST, port=self.port, socket_connect_timeout=1)

    def stop(self) -> None:
        """Shut Redis down: every client connection drops."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


class PrivateSentinel:
    """
    A Redis master of the test's own and one sentinel watching it under
    `master_name`: what REDIS_SENTINELS and REDIS_SENTINEL_MASTER point at.
    """

    # A master unreachable this long is down; a failover may then begin.
    DOWN_AFTER_MS = 1000

    def __init__(
        self, directory: Path, master_name: str = "main", *, replica: bool = False
    ) -> None:
        self.master = PrivateRedis()
        # Promoted by the sentinel when the master goes down.
        self.replica = PrivateRedis(replica_of=self.master) if replica else None
        self.master_name = master_name
        self.port = free_port()
        self.addresses = f"{HOST}:{self.port}"
        # Sentinel rewrites its configuration file, so it gets one of its own.
        self.config = directory / f"sentinel-{self.port}.conf"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> "PrivateSentinel":
        """Start the master, then the sentinel; wait until it names the master."""
        self.master.start()
        if self.replica:
            self.replica.start()
        name = self.master_name
        self.config.write_text(
            f"bind {HOST}\nport {self.port}\n"
            f"sentinel monitor {name} {HOST} {self.master.port} 1\n"
            f"sentinel down-after-milliseconds {name} {self.DOWN_AFTER_MS}\n"
            f"sentinel failover-timeout {name} 10000\n"
        )
        self.process = subprocess.Popen(
            ["redis-server", str(self.config), "--sentinel"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )

        def names_the_master(client: redis.Redis) -> bool:
            return bool(client.sentinel_get_master_addr_by_name(self.master_name))

        if answers(self.port, names_the_master, timeout):
            return self
        self.stop()
        raise RuntimeError(f"sentinel on port {self.port} did not name the master")

    def master_port(self) -> int | None:
        """The port of the master the sentinel names now."""
        with redis.Redis(host=HOST, port=self.port, socket_timeout=1) as client:
            address = client.sentinel_get_master_addr_by_name(self.master_name)
        return int(address[1]) if address else None

    def stop(self) -> None:
        """Stop the sentinel, the master and the replica."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.master.stop()
        if self.replica:
            self.replica.stop()
