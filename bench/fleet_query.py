"""Fleet power over many devices: ``fleet_power_series`` from rollups vs. scanning samples.

    python -m bench fleet_query [--devices 10000] [--days 7] [--raw-hours 24] [--raw-every-s 60]

Rollups (5-minute buckets, --days of them) are generated with one set-based INSERT ...
SELECT; raw samples (one per --raw-every-s, the last --raw-hours) likewise. The same
fleet series is then computed both ways over the raw window, and the full --days window
from rollups. Uses the configured database; the throwaway utility is deleted afterwards.
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta


def _series_sql(vendor: str, step_s: int) -> str:
    """Every (device d_id, time at) of the utility's devices over [since, until), by step."""
    if vendor == "postgresql":
        return (
            "SELECT d.id AS d_id, s AS at FROM devices_device d, "  # noqa: S608 - ints only
            "generate_series(%s::timestamptz, %s::timestamptz - interval '1 second', "
            f"interval '{step_s} seconds') s WHERE d.utility_id = %s"
        )
    fmt = "'%%Y-%%m-%%d %%H:%%M:%%S'"
    return (
        f"WITH RECURSIVE t(at) AS (SELECT %s UNION ALL "  # noqa: S608 - ints only
        f"SELECT strftime({fmt}, at, '+{step_s} seconds') FROM t "
        f"WHERE at < strftime({fmt}, %s, '-{step_s} seconds')) "
        "SELECT d.id AS d_id, t.at AS at FROM devices_device d, t WHERE d.utility_id = %s"
    )


def _fill(cursor, vendor, *, utility_id, since, until, rollups: bool, step_s: int) -> int:
    """One INSERT ... SELECT: a 5-minute rollup or a raw sample per device and step."""
    series = _series_sql(vendor, step_s)
    value = "(1000.0 + (g.d_id %% 7) * 100)"
    if vendor == "postgresql":
        bounds = [since, until]
    else:
        bounds = [f"{since:%Y-%m-%d %H:%M:%S}", f"{until:%Y-%m-%d %H:%M:%S}"]
    if rollups:
        sql = (
            "INSERT INTO devices_telemetryrollup "  # noqa: S608 - our own SQL pieces
            "(utility_id, device_id, channel, period, bucket_start, avg, min, max, count) "
            f"SELECT %s, g.d_id, 'w', '5m', g.at, {value}, {value}, {value}, 5 FROM ({series}) g"
        )
    else:
        sql = (
            "INSERT INTO devices_telemetrysample (utility_id, device_id, at, channel, value) "  # noqa: S608
            f"SELECT %s, g.d_id, g.at, 'w', {value} FROM ({series}) g"
        )
    cursor.execute(sql, [utility_id, *bounds, utility_id])
    return cursor.rowcount


def _timed(fn, repeat=3):
    best = float("inf")
    result = None
    for _ in range(repeat):
        began = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - began)
    return best, result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--raw-hours", type=int, default=24)
    parser.add_argument("--raw-every-s", type=int, default=60)
    args = parser.parse_args(argv)

    from bench._django import setup, throwaway_utility

    print(f"database: {setup()}")
    from django.db import connection, transaction
    from django.db.models import Count, Sum
    from django.utils import timezone

    from devices.choices import RollupPeriod
    from devices.models import Device, TelemetryRollup, TelemetrySample
    from devices.selectors import fleet_power_series
    from devices.services import (
        _fleet_rollup_buckets,
        interval_bucket,
        telemetry_partitions_ensure,
    )

    vendor = connection.vendor
    until = interval_bucket(timezone.now(), period=RollupPeriod.HOUR)
    since = until - timedelta(days=args.days)
    raw_since = until - timedelta(hours=args.raw_hours)
    utility = throwaway_utility("bench-fleet")
    try:
        Device.objects.bulk_create(
            (
                Device(utility=utility, vendor_name="Bench", model_name="B", serial=f"F{i:06d}")
                for i in range(args.devices)
            ),
            batch_size=5000,
        )
        telemetry_partitions_ensure(since=raw_since, through=until + timedelta(days=1))
        with transaction.atomic(), connection.cursor() as cursor:
            began = time.perf_counter()
            rollups = _fill(
                cursor,
                vendor,
                utility_id=utility.pk,
                since=since,
                until=until,
                rollups=True,
                step_s=300,
            )
            print(f"populated {rollups:,} 5-minute rollups in {time.perf_counter() - began:.1f} s")
            began = time.perf_counter()
            samples = _fill(
                cursor,
                vendor,
                utility_id=utility.pk,
                since=raw_since,
                until=until,
                rollups=False,
                step_s=args.raw_every_s,
            )
            print(f"populated {samples:,} raw samples in {time.perf_counter() - began:.1f} s")
            began = time.perf_counter()
            _fleet_rollup_buckets(
                cursor,
                windows=[(RollupPeriod.FIVE_MINUTES, since, until)],
                utility_id=utility.pk,
            )
            print(f"summed the fleet rollup in {time.perf_counter() - began:.1f} s")
            if vendor == "postgresql":
                cursor.execute("ANALYZE devices_telemetryrollup")
                cursor.execute("ANALYZE devices_telemetrysample")

        def from_rollups(start):
            return fleet_power_series(utility=utility, since=start, until=until)

        def from_device_rollups(start):
            # What the series cost before the fleet rollup: a sum over device rollups.
            return list(
                TelemetryRollup.objects.for_utility(utility)
                .filter(channel="w", period="5m", bucket_start__gte=start, bucket_start__lt=until)
                .values("bucket_start")
                .annotate(power_w=Sum("avg"), devices=Count("device_id"))
                .order_by("bucket_start")
            )

        def from_samples():
            # The same series computed from raw samples: per device and bucket an average,
            # summed over the fleet per bucket.
            bucket = _bucket(vendor)
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT b, SUM(a), COUNT(*) FROM (SELECT device_id, {bucket} AS b,"  # noqa: S608
                    " AVG(value) AS a FROM devices_telemetrysample WHERE utility_id = %s"
                    " AND channel = 'w' AND at >= %s AND at < %s GROUP BY device_id, b) x"
                    " GROUP BY b ORDER BY b",
                    [utility.pk, raw_since, until],
                )
                return cursor.fetchall()

        t_week, week = _timed(lambda: from_rollups(since))
        t_week_dev, _ = _timed(lambda: from_device_rollups(since))
        t_window_dev, _ = _timed(lambda: from_device_rollups(raw_since))
        t_window, window = _timed(lambda: from_rollups(raw_since))
        t_raw, raw = _timed(from_samples)
        points = len(window)
        print(
            f"{args.devices:,} devices x {args.days} days: fleet_power_series (fleet rollup)"
            f" {t_week * 1000:,.1f} ms, summing device rollups {t_week_dev * 1000:,.0f} ms"
            f" ({len(week)} points, {week[0].devices if week else 0} devices per point)"
        )
        print(
            f"last {args.raw_hours} h: fleet rollup {t_window * 1000:,.1f} ms, device rollups"
            f" {t_window_dev * 1000:,.0f} ms, raw samples {t_raw * 1000:,.0f} ms"
            f" ({len(raw)} vs {points} points): raw/fleet-rollup = {t_raw / t_window:,.0f}x,"
            f" raw/device-rollups = {t_raw / t_window_dev:,.1f}x"
        )
        if week and raw:
            print(
                f"check: first raw bucket sum {raw[0][1]:,.0f} W, rollup {window[0].power_w:,.0f} W"
            )
    finally:
        began = time.perf_counter()
        TelemetrySample.objects.filter(utility=utility).delete()
        TelemetryRollup.objects.filter(utility=utility).delete()
        utility.delete()
        print(f"cleanup {time.perf_counter() - began:.1f} s")


def _bucket(vendor: str) -> str:
    if vendor == "postgresql":
        return "to_timestamp(floor(extract(epoch FROM at) / 300) * 300)"
    return "(CAST(strftime('%%s', at) AS INTEGER) / 300) * 300"


if __name__ == "__main__":
    main()
