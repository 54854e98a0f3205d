"""On PostgreSQL, turn the telemetry samples table into one range-partitioned by ``at``.

Django cannot declare partitioning, so this swaps the (still empty) plain table for a
partitioned one with the same columns, keys and names. The primary key must include the
partition key, hence (id, at); the unique (device, channel, at) already does. A DEFAULT
partition catches rows before ``telemetry_partitions_ensure`` has made their month's
partition. SQLite keeps the plain table.
"""

from django.db import migrations

TABLE = "devices_telemetrysample"

FORWARD_SQL = [
    f"ALTER TABLE {TABLE} RENAME TO {TABLE}_plain",
    # CHECK constraints come along; keys, indexes and foreign keys are re-added below.
    f"CREATE TABLE {TABLE} (LIKE {TABLE}_plain"
    " INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING CONSTRAINTS)"
    " PARTITION BY RANGE (at)",
    f"DROP TABLE {TABLE}_plain",
    f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY (id, at)",
    f"ALTER TABLE {TABLE} ADD CONSTRAINT telemetry_sample_unique UNIQUE (device_id, channel, at)",
    f"CREATE INDEX telemetry_sample_utility_at ON {TABLE} (utility_id, at)",
    f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_device_id_fk FOREIGN KEY (device_id)"
    " REFERENCES devices_device (id) DEFERRABLE INITIALLY DEFERRED",
    f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_utility_id_fk FOREIGN KEY (utility_id)"
    " REFERENCES portal_utility (id) DEFERRABLE INITIALLY DEFERRED",
    f"CREATE TABLE {TABLE}_default PARTITION OF {TABLE} DEFAULT",
]


def partition_samples(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in FORWARD_SQL:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("devices", "0001_device_telemetry")]

    operations = [
        # Reversing leaves the table partitioned; it behaves the same to Django.
        migrations.RunPython(partition_samples, migrations.RunPython.noop, elidable=False),
    ]
