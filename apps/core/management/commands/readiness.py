import asyncio

from django.core.management.base import BaseCommand, CommandError

from apps.core.health import close_dependencies, dependency_problems


class Command(BaseCommand):
    help = (
        "Exit 0 when the database and the channel layer answer, as /readyz does; "
        "otherwise exit 1 naming what is down. The worker container's healthcheck: "
        "it serves no HTTP to probe."
    )

    def handle(self, *args, **options) -> None:
        problems = asyncio.run(self._problems())
        if problems:
            reasons = "; ".join(
                f"{name}: {reason}" for name, reason in problems.items()
            )
            raise CommandError(f"Not ready: {reasons}")
        self.stdout.write("ready")

    async def _problems(self) -> dict[str, str]:
        try:
            return await dependency_problems()
        finally:
            await close_dependencies()
