"""
The "ha" profile of docker-compose.yml under a real failover: chat clients and
a topic fan-out run across three servers while the Redis primary is killed
(SIGKILL, as a crashed host). The sentinels promote the replica; the servers,
not restarted, follow it.

Asserted: every client gets deliveries again by itself, every acknowledged chat
message is stored, every pending one is acknowledged in the end, and every
fan-out event is accounted for (received live, or counted as missed). Measured
and reported, never asserted: how long each client heard nothing, and how many
events each live listener missed (docs/stack.md keeps the figures).
"""

import asyncio
import json
import time
from collections.abc import Callable, Iterator

import pytest

from serving.processes import ROOT
from tests.docker.compose import Endpoint, Stack, ha_environment
from tests.docker.conftest import record_figure, running_stack
from tests.docker.failover import ChatClient, TopicListener

pytestmark = [pytest.mark.docker, pytest.mark.timeout(900)]

# Three servers are enough to cross processes; each is its own container.
SERVERS = ("daphne", "uvicorn", "granian")
ROOM = "failover"
TOPIC = "failover"
# The fan-out: one event every 0.1 s from a process of its own, for 30 s.
TICK_INTERVAL = 0.1
TICKS = 300
# When the primary dies, counted from the first tick.
KILL_AFTER = 5
# Bounds, not expectations: the sentinels' down-after is 5 s.
SWITCH_WITHIN = 60
RECOVER_WITHIN = 60
# The last run's figures (var/ is not committed).
RESULT = ROOT / "var" / "failover.json"


@pytest.fixture(scope="module")
def ha_stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    yield from running_stack(request, Stack(ha_environment()), SERVERS, scale=1)


def sentinel_master(stack: Stack) -> str:
    """The address of the master the first sentinel names now."""
    answer = stack.compose(
        "exec", "-T", "sentinel-1", "redis-cli", "-p", "26379",
        "sentinel", "get-master-addr-by-name", "channels",
    )  # fmt: skip
    return answer.split()[0]


def stored_message_ids(stack: Stack, ids: list[int]) -> set[int]:
    """Which of these chat message ids PostgreSQL holds."""
    query = f"select id from chat_message where id in ({','.join(map(str, ids))})"
    output = stack.compose(
        "exec", "-T", "postgres", "psql", "-U", "app", "-d", "app", "-At", "-c", query
    )
    return {int(line) for line in output.split()}


async def until(
    check: Callable[[], bool], seconds: float, what: str, blocks: bool = False
) -> float:
    """Wait for `check` (run in a thread if it `blocks`, so that the clients
    go on); return when it held; fail naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while not (await asyncio.to_thread(check) if blocks else check()):
        if time.monotonic() > deadline:
            pytest.fail(f"Not within {seconds} s: {what}")
        await asyncio.sleep(0.1)
    return time.monotonic()


def server_tracebacks(stack: Stack) -> list[str]:
    """The servers' log lines that begin a traceback."""
    logs = stack.compose("logs", "--no-color", *SERVERS)
    return [line for line in logs.splitlines() if "Traceback" in line]


class Failover:
    """One run: clients on every server, the ticker, the kill, the recovery."""

    def __init__(self, stack: Stack, sites: dict[str, Endpoint]) -> None:
        self.stack = stack
        self.chat = {
            name: ChatClient(
                f"{site.ws_url}/ws/chat/{ROOM}/?name={name}", site.url, name
            )
            for name, site in sites.items()
        }
        self.listeners = {
            name: TopicListener(f"{site.ws_url}/ws/live/topics/{TOPIC}/", site.url)
            for name, site in sites.items()
        }
        self.ticks_published = 0

    async def run(self) -> dict[str, float]:
        """Drive it all; return the moments that matter (monotonic seconds)."""
        stop = asyncio.Event()
        clients = [*self.chat.values(), *self.listeners.values()]
        tasks = [asyncio.create_task(client.run(stop)) for client in clients]
        try:
            moments = await self._through_the_failover()
        finally:
            stop.set()
        # Pending messages are flushed before the chat clients stop.
        await asyncio.wait_for(asyncio.gather(*tasks), RECOVER_WITHIN)
        return moments

    async def _through_the_failover(self) -> dict[str, float]:
        chat = self.chat.values()
        await until(
            lambda: all(client.deliveries.times for client in chat),
            30,
            "every chat client hears the others before the failover",
        )
        ticker = asyncio.create_task(asyncio.to_thread(self._tick))
        listeners = self.listeners.values()
        await until(
            lambda: all(listener.sequence_numbers for listener in listeners),
            30,
            "every listener gets the ticker's events before the failover",
        )
        await asyncio.sleep(KILL_AFTER)
        primary = await asyncio.to_thread(sentinel_master, self.stack)
        killed = time.monotonic()
        kill = ("kill", "--signal", "SIGKILL", "redis-primary")
        await asyncio.to_thread(self.stack.compose, *kill)
        switched = await until(
            lambda: sentinel_master(self.stack) != primary,
            SWITCH_WITHIN,
            "the sentinels promote the replica",
            blocks=True,
        )
        recovered = await until(
            lambda: all(client.deliveries.any_after(switched) for client in chat),
            RECOVER_WITHIN,
            "every chat client hears the others again after the switch",
        )
        await ticker
        ticked = time.monotonic()
        await asyncio.sleep(1)  # the last events on their way
        return {
            "killed": killed,
            "switched": switched,
            "recovered": recovered,
            "ticked": ticked,
        }

    def _tick(self) -> None:
        output = self.stack.compose(
            "exec", "-T", "daphne", "python", "manage.py", "live_ticker",
            "--topic", TOPIC, "--interval", str(TICK_INTERVAL), "--count", str(TICKS),
            timeout=300,
        )  # fmt: skip
        # A line per tick, "failover#SEQ tick N": stored, then announced.
        self.ticks_published = len(output.splitlines())


def test_chat_and_fan_out_survive_the_primary_being_killed(
    ha_stack: Stack, pytestconfig: pytest.Config
) -> None:
    sites = {name: ha_stack.endpoint(name) for name in SERVERS}
    run = Failover(ha_stack, sites)
    moments = asyncio.run(run.run())
    killed = moments["killed"]

    assert run.ticks_published == TICKS
    everything = set(range(1, TICKS + 1))
    report = {"sentinel switch (s)": round(moments["switched"] - killed, 1)}
    for name in SERVERS:
        chat, listener = run.chat[name], run.listeners[name]
        assert not chat.pending, f"{name}: messages never acknowledged"
        acknowledged = list(chat.acknowledged.values())
        stored = stored_message_ids(ha_stack, acknowledged)
        assert stored == set(acknowledged), f"{name}: acknowledged but not stored"
        assert listener.deliveries.any_after(moments["switched"]), (
            f"{name}: the fan-out never reached its listener again"
        )
        missed = everything - listener.sequence_numbers
        assert listener.sequence_numbers <= everything
        report[name] = {
            "chat silence (s)": round(
                chat.deliveries.longest_silence(killed - 1, moments["recovered"]), 1
            ),
            "chat reconnections": chat.deliveries.reconnections,
            "messages acknowledged": len(acknowledged),
            "fan-out silence (s)": round(
                listener.deliveries.longest_silence(killed - 1, moments["ticked"]), 1
            ),
            "fan-out reconnections": listener.deliveries.reconnections,
            "fan-out events missed live": f"{len(missed)} of {TICKS}",
        }
    record_figure(pytestconfig, "Redis failover (ha profile)", json.dumps(report))
    _keep(report)
    # An outage is expected: one line per connection, never a traceback.
    assert server_tracebacks(ha_stack) == []


def _keep(report: dict) -> None:
    """Write the figures where a person finds them after the run."""
    RESULT.parent.mkdir(exist_ok=True)
    RESULT.write_text(json.dumps(report, indent=2) + "\n")
