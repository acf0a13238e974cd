"""Read deploy/servers.toml, the registry of server variants."""

import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = ROOT / "deploy" / "servers.toml"


@dataclass(frozen=True)
class TLSFiles:
    """A certificate chain and its private key, as PEM files."""

    certfile: Path
    keyfile: Path


@dataclass(frozen=True)
class ServerVariant:
    """One way of serving the project: command lines and what they speak."""

    name: str
    summary: str
    command: str
    protocols: tuple[str, ...]
    interface: str
    lifespan: bool
    workers: bool
    stop_timeout: int
    tls_command: str | None = None
    http3_args: str | None = None
    tls_protocols: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()
    development: bool = False

    @property
    def supports_tls(self) -> bool:
        return self.tls_command is not None

    @property
    def supports_http3(self) -> bool:
        return self.http3_args is not None

    def argv(
        self,
        *,
        host: str,
        port: int,
        workers: int = 1,
        tls: TLSFiles | None = None,
        http3: bool = False,
    ) -> list[str]:
        """The command as a list of arguments, ready for subprocess or exec."""
        if http3 and (tls is None or not self.supports_http3):
            raise ValueError(f"{self.name} has no HTTP/3 (it needs TLS and QUIC).")
        if workers != 1 and not self.workers:
            raise ValueError(f"{self.name} runs one process; it has no --workers.")
        if tls is None:
            template = self.command
        elif self.tls_command is None:
            raise ValueError(f"{self.name} has no TLS command in {REGISTRY.name}.")
        else:
            template = self.tls_command
        values = {"host": host, "port": port, "workers": workers}
        if tls is not None:
            values |= {"certfile": tls.certfile, "keyfile": tls.keyfile}
        if http3:
            template = f"{template} {self.http3_args}"
        return shlex.split(template.format(**values))


def load_servers(path: Path = REGISTRY) -> dict[str, ServerVariant]:
    """Every variant in the registry, by name, in file order."""
    with path.open("rb") as registry:
        entries = tomllib.load(registry)["servers"]
    return {
        name: ServerVariant(
            name=name,
            summary=entry["summary"],
            command=entry["command"],
            protocols=tuple(entry["protocols"]),
            interface=entry["interface"],
            lifespan=entry["lifespan"],
            workers=entry["workers"],
            stop_timeout=entry["stop_timeout"],
            tls_command=entry.get("tls_command"),
            http3_args=entry.get("http3_args"),
            tls_protocols=tuple(entry.get("tls_protocols", ())),
            packages=tuple(entry.get("packages", ())),
            development=entry.get("development", False),
        )
        for name, entry in entries.items()
    }
