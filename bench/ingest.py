"""Telemetry ingest throughput: samples per second into the configured database.

    python -m bench ingest [--devices 500] [--batches 20] [--batch 2000]

Every batch goes through ``devices.services.telemetry_ingest`` (validation; on PostgreSQL
a COPY into a staging table and one INSERT ... ON CONFLICT DO NOTHING merged into the
rollups; live-state update, rollup marks), as a transport would call it. Uses DATABASE_URL when
set, else the default SQLite file; the throwaway utility is deleted afterwards.
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta

CHANNELS = ("w", "var", "v", "hz", "soc_pct")
VALUES = {"w": 1500.0, "var": 10.0, "v": 240.0, "hz": 60.0, "soc_pct": 55.0}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--batch", type=int, default=2000, help="readings per ingest call")
    args = parser.parse_args(argv)

    from bench._django import setup, throwaway_utility

    print(f"database: {setup()}")
    from django.utils import timezone

    from devices.models import Device
    from devices.services import telemetry_ingest

    utility = throwaway_utility("bench-ingest")
    try:
        Device.objects.bulk_create(
            Device(utility=utility, vendor_name="Bench", model_name="B", serial=f"B{i:06d}")
            for i in range(args.devices)
        )
        device_ids = list(Device.objects.for_utility(utility).values_list("pk", flat=True))
        start = timezone.now() - timedelta(days=1)
        per_step = len(device_ids) * len(CHANNELS)
        step = 0
        total, wall = 0, 0.0
        print(
            f"{args.devices} devices x {len(CHANNELS)} channels, "
            f"{args.batches} batches of {args.batch} readings"
        )
        readings_iter = _readings(device_ids, start)
        for _ in range(args.batches):
            batch = [next(readings_iter) for _ in range(args.batch)]
            began = time.perf_counter()
            result = telemetry_ingest(utility=utility, readings=batch, source="bench")
            wall += time.perf_counter() - began
            total += result.accepted
            step += 1
        rate = total / wall
        print(f"stored {total} samples in {wall:.2f} s: {rate:,.0f} samples/s")
        print(f"per ingest call: {1000 * wall / step:.1f} ms ({per_step} readings per sweep)")
        floor = _raw_insert_rate(device_ids, utility.pk, start, args.batches, args.batch)
        if floor:
            print(
                f"bare INSERT of the same rows (no checks, rollups or live state): "
                f"{floor:,.0f} samples/s; ingest / bare = {rate / floor:.2f}"
            )
    finally:
        began = time.perf_counter()
        utility.delete()
        print(f"cleanup {time.perf_counter() - began:.1f} s")


def _raw_insert_rate(device_ids, utility_id, start, batches, batch) -> float | None:
    """Samples/s of a bare unnest INSERT of the same rows into a temporary copy of the
    sample table, measured in the same run: the ratio to it holds on a loaded machine.
    PostgreSQL only (the target is set there)."""
    from django.db import connection, transaction

    if connection.vendor != "postgresql":
        return None
    readings = _readings(device_ids, start)
    wall = 0.0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE bench_raw (device_id bigint, utility_id bigint,"
            " at timestamptz, channel varchar(16), value double precision) ON COMMIT DROP"
        )
        for _ in range(batches):
            rows = [next(readings) for _ in range(batch)]
            columns = [
                [r.device_id for r in rows],
                [utility_id] * len(rows),
                [r.at for r in rows],
                [r.channel for r in rows],
                [float(r.value) for r in rows],
            ]
            began = time.perf_counter()
            cursor.execute(
                "INSERT INTO bench_raw SELECT * FROM unnest(%s::bigint[], %s::bigint[],"
                " %s::timestamptz[], %s::varchar[], %s::double precision[])",
                columns,
            )
            wall += time.perf_counter() - began
    return batches * batch / wall


def _readings(device_ids, start):
    from devices.services import Reading

    tick = 0
    while True:
        at = start + timedelta(seconds=10 * tick)
        for device_id in device_ids:
            for channel in CHANNELS:
                yield Reading(device_id=device_id, at=at, channel=channel, value=VALUES[channel])
        tick += 1


if __name__ == "__main__":
    main()
