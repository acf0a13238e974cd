"""
The two tables of the TechEmpower test types: World (10,000 rows of random
numbers) and Fortune (12 fixed messages). Seeded by migration 0002.
"""

from django.db import models


class World(models.Model):
    """One row of the db, queries and updates tests; ids run 1..10000."""

    id = models.IntegerField(primary_key=True)
    random_number = models.IntegerField()

    def __str__(self) -> str:
        return f"World {self.id}: {self.random_number}"


class Fortune(models.Model):
    """One message of the fortunes test."""

    id = models.IntegerField(primary_key=True)
    message = models.CharField(max_length=2048)

    def __str__(self) -> str:
        return self.message
