"""Everything the TechEmpower endpoints write, and the seed of their tables."""

import random

from apps.bench.models import Fortune, World
from apps.bench.selectors import WORLD_ROWS

# The twelve messages of the TechEmpower fortunes test: markup, quotes and
# non-ASCII text that the template must escape and encode correctly.
FORTUNES = [
    "fortune: No such file or directory",
    "A computer scientist is someone who fixes things that aren't broken.",
    "After enough decimal places, nobody gives a damn.",
    "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1",
    "A computer program does what you tell it to do, not what you want it to do.",
    "Emacs is a nice operating system, but I prefer UNIX. \u2014 Tom Christaensen",
    "Any program that runs right is obsolete.",
    "A list is only as strong as its weakest link. \u2014 Donald Knuth",
    "Feature: A bug with seniority.",
    "Computers make very fast, very accurate mistakes.",
    '<script>alert("This should not be displayed in a browser alert box.");</script>',
    "\u30d5\u30ec\u30fc\u30e0\u30ef\u30fc\u30af\u306e\u30d9\u30f3\u30c1\u30de\u30fc\u30af",
]


def random_number() -> int:
    """A value for World.random_number, 1..10000 like the ids."""
    return random.randint(1, WORLD_ROWS)


def bench_tables_seed(*, world: type = World, fortune: type = Fortune) -> None:
    """
    Fill World (ids 1..10000) and Fortune (ids 1..12) where they are empty.
    The migration passes its historical models; tests call it with the real ones.
    """
    if not world.objects.exists():
        rows = [
            world(id=i, random_number=random_number()) for i in range(1, WORLD_ROWS + 1)
        ]
        world.objects.bulk_create(rows, batch_size=2000)
    if not fortune.objects.exists():
        fortune.objects.bulk_create(
            fortune(id=i, message=text) for i, text in enumerate(FORTUNES, start=1)
        )


def _renumbered(worlds: list[World]) -> list[World]:
    for world in worlds:
        world.random_number = random_number()
    return worlds


def world_random_numbers_update(*, worlds: list[World]) -> list[World]:
    """Give each row a new random number and save them in one statement."""
    World.objects.bulk_update(_renumbered(worlds), ["random_number"])
    return worlds


async def world_random_numbers_aupdate(*, worlds: list[World]) -> list[World]:
    """world_random_numbers_update() through the async ORM."""
    await World.objects.abulk_update(_renumbered(worlds), ["random_number"])
    return worlds
