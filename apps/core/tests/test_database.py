import os

import pytest
from django.db import connection


@pytest.mark.django_db
def test_database_follows_database_url():
    """Guards the test matrix: the PostgreSQL run must really use PostgreSQL."""
    expected = (
        "postgresql"
        if os.environ.get("DATABASE_URL", "").startswith("postgres")
        else "sqlite"
    )
    assert connection.vendor == expected
