from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="Fortune",
            fields=[
                ("id", models.IntegerField(primary_key=True, serialize=False)),
                ("message", models.CharField(max_length=2048)),
            ],
        ),
        migrations.CreateModel(
            name="World",
            fields=[
                ("id", models.IntegerField(primary_key=True, serialize=False)),
                ("random_number", models.IntegerField()),
            ],
        ),
    ]
