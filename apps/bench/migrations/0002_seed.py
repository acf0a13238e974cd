"""Fill World and Fortune, as the TechEmpower test types expect."""

from django.db import migrations


def seed(apps, schema_editor):
    from apps.bench.services import bench_tables_seed

    bench_tables_seed(
        world=apps.get_model("bench", "World"),
        fortune=apps.get_model("bench", "Fortune"),
    )


class Migration(migrations.Migration):
    dependencies = [("bench", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
