"""Telemetry ingest throughput: samples per second into the configured database.

    python -m bench ingest [--devices 400] [--batches 40] [--batch 2000]
                           [--requests 200] [--per-request 4]

Every batch goes through ``devices.services.telemetry_ingest`` (validation; on PostgreSQL
a COPY into a staging table and one INSERT ... ON CONFLICT DO NOTHING that marks the
hours it wrote pending; live-state update; the signal after commit), as a transport would
call it. The rollups of those hours are then brought up to date by
``telemetry_rollup_pending`` (the beat job, every minute): its time is printed, and the
rate with it counted in, so the figure holds with rollups kept up to date.

The issue 18 target is 20,000 samples/s on PostgreSQL: the figure's ratio to it is printed.

Two shapes, measured in the same run:
- connector sweeps: ``--batch`` readings per call (a poll round of many devices);
- per request: ``--per-request`` readings of one device per call, as one MMR POST
  (a 2030.5 device posts its own readings; one request cannot carry another device's).

The ratio is to a bare COPY of the same rows into an unindexed temporary table (no
checks, keys, rollups or live state). Uses DATABASE_URL when set, else the default SQLite
file; the throwaway utility is deleted afterwards.
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import timedelta

CHANNELS = ("w", "var", "v", "hz", "soc_pct")
TARGET = 20_000  # samples/s on PostgreSQL (issue 18)
VALUES = {"w": 1500.0, "var": 10.0, "v": 240.0, "hz": 60.0, "soc_pct": 55.0}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=400, help="one sweep = one batch")
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--batch", type=int, default=2000, help="readings per ingest call")
    parser.add_argument("--requests", type=int, default=200, help="per-request calls")
    parser.add_argument("--per-request", type=int, default=4, help="readings per request")
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
        print(
            f"connector sweeps: {total} samples in {wall:.2f} s: {rate:,.0f} samples/s"
            f" ({rate / TARGET:.2f} x the {TARGET:,} target)"
        )
        print(f"  per ingest call: {1000 * wall / step:.1f} ms ({per_step} readings per sweep)")
        rolled = _rollup_job_seconds()
        settled = total / (wall + rolled)
        print(
            f"  rollup job over the hours they marked: {rolled:.2f} s; ingest and rollups"
            f" together: {settled:,.0f} samples/s ({settled / TARGET:.2f} x target)"
        )
        small_rate = _per_request_rate(
            utility, device_ids, readings_iter, args.requests, args.per_request
        )
        print(
            f"per request ({args.per_request} readings of one device per call, one client):"
            f" {small_rate:,.0f} samples/s"
        )
        floor = _bare_copy_rate(device_ids, utility.pk, start, args.batches, args.batch)
        if floor:
            print(
                f"bare COPY of the same rows into an unindexed temporary table: "
                f"{floor:,.0f} samples/s; ingest / bare = {rate / floor:.2f}"
            )
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        began = time.perf_counter()
        utility.delete()
        print(f"cleanup {time.perf_counter() - began:.1f} s")


def _rollup_job_seconds() -> float:
    """Wall time of the beat job rolling up every hour the ingest marked."""
    from devices.services import telemetry_rollup_pending

    began = time.perf_counter()
    telemetry_rollup_pending()
    return time.perf_counter() - began


def _per_request_rate(utility, device_ids, readings, requests, per_request) -> float:
    """Samples/s when each call carries ``per_request`` readings of one device (an MMR
    POST); the same service, one caller after another."""
    from devices.services import Reading, telemetry_ingest

    base = next(readings).at + timedelta(hours=1)
    calls = [
        [
            Reading(
                device_id=device_ids[i % len(device_ids)],
                at=base + timedelta(seconds=10 * (i // len(device_ids)), milliseconds=k),
                channel="w",
                value=1500.0,
            )
            for k in range(per_request)
        ]
        for i in range(requests)
    ]
    stored = 0
    began = time.perf_counter()
    for readings_of_one in calls:
        stored += telemetry_ingest(
            utility=utility, readings=readings_of_one, source="bench"
        ).accepted
    return stored / (time.perf_counter() - began)


def _bare_copy_rate(device_ids, utility_id, start, batches, batch) -> float | None:
    """Samples/s of a bare COPY of the same rows into a temporary unindexed copy of the
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
            began = time.perf_counter()
            data = "".join(
                f"{r.device_id}\t{utility_id}\t{r.at.isoformat()}\t{r.channel}\t{r.value!r}\n"
                for r in rows
            ).encode()
            with cursor.cursor.copy("COPY bench_raw FROM STDIN") as copy:
                copy.write(data)
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
