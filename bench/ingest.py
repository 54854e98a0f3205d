"""Telemetry ingest throughput: samples per second into the configured database.

    python -m bench ingest [--devices 500] [--batches 20] [--batch 2000]

Every batch goes through ``devices.services.telemetry_ingest`` (validation, one INSERT,
live-state update, rollup marks), as a transport would call it. Uses DATABASE_URL when
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
        print(f"stored {total} samples in {wall:.2f} s: {total / wall:,.0f} samples/s")
        print(f"per ingest call: {1000 * wall / step:.1f} ms ({per_step} readings per sweep)")
    finally:
        began = time.perf_counter()
        utility.delete()
        print(f"cleanup {time.perf_counter() - began:.1f} s")


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
