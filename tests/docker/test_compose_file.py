"""
docker-compose.yml agrees with deploy/servers.toml: one service per ASGI server,
started through `manage.py serve`, stopped with the registry's grace period + 5 s.
Reads the file only; no container engine needed.
"""

import re

import pytest
import yaml

from serving.processes import ROOT
from tests.docker.compose import (
    COMPOSE_FILE,
    ENV_EXAMPLE,
    PORT_VARIABLES,
    SERVERS,
    STACK_SERVERS,
    ha_environment,
)

# Seconds compose waits beyond a server's own graceful-shutdown setting.
STOP_MARGIN = 5

# The stack as docs/stack.md presents it: ports, and the replicas it scales to.
STACK_DOC = (ROOT / "docs" / "stack.md").read_text()
COMPOSE = yaml.safe_load(COMPOSE_FILE.read_text())
SERVICES = COMPOSE["services"]
SCALED = "uvicorn"
DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


def seconds(duration: str) -> int:
    """A compose duration such as "1m30s" in seconds (whole units only)."""
    match = DURATION.fullmatch(duration)
    if not duration or match is None:
        raise ValueError(f"Not a compose duration in h/m/s: {duration!r}")
    hours, minutes, secs = (int(part or 0) for part in match.groups())
    return hours * 3600 + minutes * 60 + secs


def test_seconds_reads_compose_durations():
    assert [seconds(d) for d in ("10s", "1m30s", "2h")] == [10, 90, 7200]
    with pytest.raises(ValueError, match="500ms"):
        seconds("500ms")


def test_every_asgi_server_of_the_registry_has_a_service():
    assert SCALED in STACK_SERVERS
    missing = set(STACK_SERVERS) - set(SERVICES)
    assert not missing, f"add a service to docker-compose.yml for {sorted(missing)}"


@pytest.mark.parametrize("name", STACK_SERVERS)
def test_service_runs_the_registry_command_and_stops_in_its_grace_period(name):
    service = SERVICES[name]
    # The command line itself comes from the registry, through `serve`.
    assert service["command"][:5] == ["python", "manage.py", "serve", "--server", name]
    # The server's own timeout first, then a margin for what it does after it
    # (closing sockets, lifespan shutdown); equal, the two race to the kill.
    grace = SERVERS[name].stop_timeout + STOP_MARGIN
    assert seconds(service["stop_grace_period"]) == grace
    assert (
        service["depends_on"]["migrate"]["condition"]
        == "service_completed_successfully"
    )
    for dependency in ("redis", "postgres"):
        assert service["depends_on"][dependency]["condition"] == "service_healthy"
    assert service["deploy"]["resources"]["limits"].keys() == {"cpus", "memory"}
    # podman refuses a container whose ulimits set nofile without nproc.
    assert service["ulimits"].keys() == {"nofile", "nproc"}
    assert "healthcheck" not in service, "the image's HEALTHCHECK applies"


def test_the_scaled_service_has_no_fixed_name_or_host_port():
    service = SERVICES[SCALED]
    assert "container_name" not in service
    # "address::8000": the engine picks a host port for each replica.
    assert [port.split(":")[-2:] for port in service["ports"]] == [["", "8000"]]
    upstreams = {
        value
        for name, value in SERVICES["nginx"]["environment"].items()
        if name.startswith("NGINX_APP_SERVER_")
    }
    assert upstreams == {f"{SCALED}:8000"}


def test_no_service_pulls_or_names_a_container():
    for name, service in SERVICES.items():
        assert "container_name" not in service, name
        assert service.get("pull_policy", "missing") != "always", name


def env_example() -> dict[str, str]:
    """The variables .env.example sets, with their values."""
    lines = ENV_EXAMPLE.read_text().splitlines()
    pairs = (line.split("=", 1) for line in lines if re.match(r"^[A-Z_]+=", line))
    return dict(pairs)


@pytest.mark.parametrize(("service", "variable"), PORT_VARIABLES.items())
def test_default_ports_agree_in_compose_env_example_and_docs(service, variable):
    port = env_example()[variable]
    assert f"${{{variable}:-{port}}}:" in COMPOSE_FILE.read_text()
    docker_section = STACK_DOC.split("\n## Docker Compose\n", 1)[1].split("\n## ")[0]
    [row] = [
        line for line in docker_section.splitlines() if f"localhost:{port}/" in line
    ]
    assert service.split("-")[0] in row


def test_every_processs_pool_fits_postgresqls_connections():
    """Each app process opens up to DJANGO_DB_POOL_MAX_SIZE connections; all
    of them (the uvicorn replicas docs/stack.md scales to included) must fit
    PostgreSQL's max_connections (100, its default here) with a margin for
    its 3 reserved connections, migrate and psql."""
    app_image = SERVICES["migrate"]["image"]
    long_running = [
        name
        for name, service in SERVICES.items()
        if service.get("image") == app_image and service.get("restart") != "no"
    ]
    assert "--scale uvicorn=3" in STACK_DOC
    processes = len(long_running) + 2  # two more uvicorn replicas
    pool_max = SERVICES["daphne"]["environment"]["DJANGO_DB_POOL_MAX_SIZE"]
    default = int(re.fullmatch(r"\$\{DJANGO_DB_POOL_MAX_SIZE:-(\d+)\}", pool_max)[1])
    assert processes * default <= 100 - 10, (processes, default)


def test_the_ha_profile_is_what_env_example_turns_on():
    """The commented block of .env.example names the profile's sentinels, and
    every app service waits for them only when the profile runs."""
    settings = ha_environment()
    assert settings["COMPOSE_PROFILES"] == "ha"
    assert settings["REDIS_URL"] == ""
    sentinels = [
        address.split(":")[0] for address in settings["REDIS_SENTINELS"].split(",")
    ]
    for name in [*sentinels, "redis-primary", "redis-replica"]:
        assert SERVICES[name]["profiles"] == ["ha"], name
    assert len(sentinels) == 3
    for name in [*STACK_SERVERS, "worker"]:
        for sentinel in sentinels:
            dependency = SERVICES[name]["depends_on"][sentinel]
            assert dependency == {"condition": "service_healthy", "required": False}
