"""On PostgreSQL, leave free room in each page of the device rollups for in-place updates.

Every ingest batch merges its samples into the 5-minute and hourly rollup rows it
touches, so a bucket row is rewritten once per batch. With half of each page free the
new row version fits beside the old one (a HOT update): no index entry per version and
the dead versions are pruned on the page. SQLite has no fillfactor.
"""

from django.db import migrations

TABLE = "devices_telemetryrollup"


def set_fillfactor(apps, schema_editor, value="50"):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"ALTER TABLE {TABLE} SET (fillfactor = {int(value)})")


def reset_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"ALTER TABLE {TABLE} RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("devices", "0012_connection_point_is_an_nmi")]

    operations = [migrations.RunPython(set_fillfactor, reset_fillfactor, elidable=False)]
