"""Read deploy/servers.toml, the registry of server variants."""

import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path

REGISTRY = Path(__file__).resolve().parent.parent / "deploy" / "servers.toml"


@dataclass(frozen=True)
class ServerVariant:
    """One way of serving the project: a command line and what it speaks."""

    name: str
    summary: str
    command: str
    protocols: tuple[str, ...]
    lifespan: bool
    development: bool = False

    def argv(self, *, host: str, port: int) -> list[str]:
        """The command as a list of arguments, for subprocess."""
        return shlex.split(self.command.format(host=host, port=port))


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
            lifespan=entry["lifespan"],
            development=entry.get("development", False),
        )
        for name, entry in entries.items()
    }
