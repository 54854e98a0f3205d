"""On PostgreSQL, leave free room in each page of the device table for in-place updates.

Every ingest batch rewrites the live state (power, SoC, last heard, ...) of each device it
carries. None of those columns is indexed, so with room on the page the new row version
is a HOT update; on full pages each of the seven device indexes got a new entry per
device per batch (4 % of the updates were HOT in the ingest bench). Existing pages keep
their fill until the table is rewritten. SQLite has no fillfactor.
"""

from django.db import migrations

TABLE = "devices_device"


def set_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE {TABLE} SET (fillfactor = 70)")


def reset_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE {TABLE} RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("devices", "0013_rollup_fillfactor")]

    operations = [migrations.RunPython(set_fillfactor, reset_fillfactor, elidable=False)]
