"""
The conformance tier: every server of deploy/servers.toml runs for real on a
free loopback port (its plain command and, where the registry has one, its TLS
command with the development certificate), each capability is checked over the
network with real clients, and every outcome becomes a cell of the capability
matrix (serving/capabilities.py), written to var/conformance/ at the end.

Servers that checks leave running are started once per session, all at once;
checks that stop or reconfigure a server start processes of their own.
"""

import json
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import pytest

from serving.capabilities import Cell, Matrix
from serving.devcert import ca_file, ensure_dev_certificates
from serving.processes import ServerProcess, start_all
from serving.registry import ROOT, ServerVariant, TLSFiles, load_servers

SERVERS = load_servers()
RUN_DIRECTORY = ROOT / "var" / "conformance"
MATRIX = pytest.StashKey[Matrix]()
# Modules in the order their rows appear in the matrix; the comparison with the
# committed matrix (test_matrix.py) runs last, when every cell is in.
MODULE_ORDER = [
    "test_http",
    "test_websocket",
    "test_transport",
    "test_scope",
    "test_lifecycle",
    "test_hostile",
    "test_nginx",
    "test_publish",
    "test_matrix",
]


def package_versions(variant: ServerVariant) -> dict[str, str]:
    return {package: version(package) for package in variant.packages}


def pytest_configure(config: pytest.Config) -> None:
    servers = {name: package_versions(variant) for name, variant in SERVERS.items()}
    config.stash[MATRIX] = Matrix(servers)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        module = item.module.__name__.rsplit(".", 1)[-1]
        in_suite = item.path.parent == Path(__file__).parent
        return MODULE_ORDER.index(module) + 1 if in_suite else 0

    items.sort(key=rank)  # stable: other tests keep their order, and go first


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Write the run's matrix (JSON and Markdown) for `make capabilities`."""
    matrix = session.config.stash.get(MATRIX, None)
    if matrix is None or not matrix.capabilities:
        return
    RUN_DIRECTORY.mkdir(parents=True, exist_ok=True)
    text = json.dumps(matrix.to_json(), indent=2, ensure_ascii=False) + "\n"
    (RUN_DIRECTORY / "capabilities.json").write_text(text)
    (RUN_DIRECTORY / "capabilities.md").write_text(matrix.markdown())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """On a failure, show what the servers the test used printed (the tail)."""
    report = yield
    if report.failed and call.when == "call":
        for name in ("server", "tls_server"):
            server = getattr(item, "funcargs", {}).get(name)
            if server is not None:
                report.sections.append((f"{name} output", server.output()[-4000:]))
    return report


@pytest.fixture
def record(request: pytest.FixtureRequest) -> Callable[[str, str], Cell]:
    """
    Record this test's outcome for its server: the test's name (without test_)
    is the capability id, the first line of its docstring the row title.
    """
    node = request.node
    capability = node.originalname.removeprefix("test_")
    title = node.function.__doc__.strip().splitlines()[0]
    server = node.callspec.params["server_name"]
    matrix = request.config.stash[MATRIX]

    def record(status: str, detail: str) -> Cell:
        cell = Cell(status, detail)
        matrix.record(capability, title, server, cell)
        return cell

    return record


@pytest.fixture
def measured_matrix(request: pytest.FixtureRequest) -> Matrix:
    """Every cell recorded so far in this session."""
    return request.config.stash[MATRIX]


@pytest.fixture(params=list(SERVERS))
def server_name(request: pytest.FixtureRequest) -> str:
    """Each test using this runs once per server in deploy/servers.toml."""
    return request.param


@dataclass(frozen=True)
class DevTLS:
    """The development certificate, and the CA a client must trust for it."""

    files: TLSFiles
    ca_file: Path

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))


@pytest.fixture(scope="session")
def dev_tls(tmp_path_factory: pytest.TempPathFactory) -> DevTLS:
    """A certificate for this session only (made fresh, as `manage.py devcert` does)."""
    directory = tmp_path_factory.mktemp("tls")
    return DevTLS(ensure_dev_certificates(directory), ca_file(directory))


def servers_in_session(session: pytest.Session) -> list[str]:
    """Servers the selected tests will ask for, in registry order."""
    wanted = {
        item.callspec.params.get("server_name")
        for item in session.items
        if hasattr(item, "callspec")
    }
    return [name for name in SERVERS if name in wanted]


@dataclass
class ServerPool:
    """One plain and (where the registry has it) one TLS process per server."""

    plain: dict[str, ServerProcess]
    tls: dict[str, ServerProcess]

    def all(self) -> list[ServerProcess]:
        return [*self.plain.values(), *self.tls.values()]


@pytest.fixture(scope="session")
def pool(
    request: pytest.FixtureRequest, shared_env: dict[str, str], dev_tls: DevTLS
) -> Iterator[ServerPool]:
    """Every server the session needs, started together, shared by the checks."""
    names = servers_in_session(request.session)
    pool = ServerPool(
        plain={name: ServerProcess(SERVERS[name], shared_env) for name in names},
        tls={
            name: ServerProcess(
                SERVERS[name],
                shared_env,
                tls=dev_tls.files,
                http3=SERVERS[name].supports_http3,
            )
            for name in names
            if SERVERS[name].supports_tls
        },
    )
    try:
        start_all(pool.all())
        yield pool
    finally:
        for server in pool.all():
            server.close()


@pytest.fixture
def server(pool: ServerPool, server_name: str) -> ServerProcess:
    """The server's plain (cleartext) process."""
    return pool.plain[server_name]


@pytest.fixture
def tls_server(pool: ServerPool, server_name: str) -> ServerProcess | None:
    """The server's TLS process, or None when the registry has no TLS command."""
    return pool.tls.get(server_name)
