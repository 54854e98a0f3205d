"""Control room at fleet scale: page load time and query count with 100,000 devices.

python -m bench control_room        (or: python -m bench.control_room --devices 100000)
"""

import argparse
import statistics
import time
from datetime import timedelta

from bench._django import kept_utility_manager, setup


def _populate(utility, devices: int, history_h: int) -> None:
    from django.db import connection
    from django.utils import timezone

    from devices.models import Device, FleetRollup, TelemetryRollup
    from devices.services import telemetry_rollup

    have = Device.objects.for_utility(utility).count()
    now = timezone.now()
    if have < devices:
        started = time.perf_counter()
        batch = []
        for i in range(have, devices):
            batch.append(
                Device(
                    utility=utility,
                    vendor_name="BenchCo",
                    model_name="B10",
                    serial=f"B{i:07d}",
                    max_charge_w=5000,
                    max_discharge_w=5000,
                    capacity_wh=13500,
                    zip_code=f"{970 + i % 30:03d}{i % 100:02d}",
                    state="OR",
                    soc_pct=20 + i % 80,
                    power_w=(i % 11 - 5) * 400.0,
                    stat_w_avail_w=4000,
                    last_heard_at=now - timedelta(seconds=i % 1200),
                )
            )
            if len(batch) == 5000:
                Device.objects.bulk_create(batch)
                batch = []
        Device.objects.bulk_create(batch)
        print(f"  created {devices - have:,} devices in {time.perf_counter() - started:.1f} s")
    buckets = history_h * 12
    if history_h and not TelemetryRollup.objects.for_utility(utility).exists():
        started = time.perf_counter()
        start = (now - timedelta(hours=history_h)).replace(second=0, microsecond=0)
        start -= timedelta(minutes=start.minute % 5)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(
                    """
                    INSERT INTO devices_telemetryrollup
                        (utility_id, device_id, channel, period, bucket_start, avg, min, max, count)
                    SELECT d.utility_id, d.id, 'w', '5m', %s + (b * interval '5 minutes'),
                           d.power_w, d.power_w, d.power_w, 5
                    FROM devices_device d CROSS JOIN generate_series(0, %s - 1) AS b
                    WHERE d.utility_id = %s
                    """,
                    [start, buckets, utility.pk],
                )
            else:
                cursor.execute(
                    """
                    WITH RECURSIVE b(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM b WHERE n < %s)
                    INSERT INTO devices_telemetryrollup
                        (utility_id, device_id, channel, period, bucket_start, avg, min, max, count)
                    SELECT d.utility_id, d.id, 'w', '5m',
                           strftime('%%Y-%%m-%%d %%H:%%M:%%S', %s, '+' || (b.n * 5) || ' minutes'),
                           d.power_w, d.power_w, d.power_w, 5
                    FROM devices_device d CROSS JOIN b
                    WHERE d.utility_id = %s
                    """,
                    [buckets - 1, start.strftime("%Y-%m-%d %H:%M:%S"), utility.pk],
                )
        print(
            f"  wrote {devices * buckets:,} 5-minute rollups ({history_h} h) "
            f"in {time.perf_counter() - started:.1f} s"
        )
    if history_h and not FleetRollup.objects.for_utility(utility).exists():
        started = time.perf_counter()
        telemetry_rollup(since=now - timedelta(hours=history_h), until=now)
        print(f"  summed the fleet rollup in {time.perf_counter() - started:.1f} s")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench control_room")
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--history-hours", type=int, default=6)
    parser.add_argument("--loads", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"database: {setup()}")

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    utility, user = kept_utility_manager("bench-control-room", "Bench Control Room")
    _populate(utility, args.devices, args.history_hours)
    client = Client()
    client.force_login(user)

    client.get("/control-room/")  # warm caches and connections
    times, queries = [], 0
    for _ in range(args.loads):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get("/control-room/")
            times.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise SystemExit(f"control room answered {response.status_code}")
        queries = len(captured)
    started = time.perf_counter()
    client.get("/control-room/data/")
    data_s = time.perf_counter() - started
    print(f"  devices: {args.devices:,}; history: {args.history_hours} h of 5-minute rollups")
    print(
        f"  control room page: median {statistics.median(times) * 1000:.0f} ms, "
        f"max {max(times) * 1000:.0f} ms over {args.loads} loads, {queries} queries"
    )
    print(f"  catch-up JSON: {data_s * 1000:.0f} ms")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
