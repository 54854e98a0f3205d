"""Rollup-pending marks are no longer unique per (utility, hour).

Ingest no longer merges each batch into the rollups; it only marks the hours it wrote, and
``telemetry_rollup_pending`` recomputes them. With a unique mark, an ingest finding the
hour already marked added nothing, and the job could consume that mark (and recompute
without the ingest's samples, still uncommitted) before the ingest committed: those
samples would never be rolled up. Each ingest now inserts its own marks and the job
deletes only the marks its snapshot sees, so a mark always outlives its samples' commit.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("devices", "0014_device_fillfactor")]

    operations = [
        migrations.RemoveConstraint(
            model_name="telemetryrolluppending", name="telemetry_rollup_pending_unique"
        )
    ]
