"""Settlement at scale: one event with N dispatched devices, then a season for N customers.

Runs in a throwaway test database (created and dropped here), filled with set-based SQL
(generate_series on PostgreSQL, a recursive CTE on SQLite). Prints figures; never asserts.

    python -m bench settlement            # 100,000 devices, then a 10,000-device season
    python -c "import bench.settlement as b; b.main(['--devices', '5000'])"

Issue 18's targets, printed with their ratio (measured / target; below 1 meets it):
100,000 device-events reconciled in < 10 s, and a season settled for 10,000 devices in
< 10 s. The second scenario (``--season-devices``, 0 to skip) is a utility of its own.
"""

import argparse
import os
import sys
import time
from datetime import UTC, date, datetime
from decimal import Decimal

DEFAULT_DEVICES = 100_000
DEFAULT_SEASON_DEVICES = 10_000
TARGET_S = 10.0  # both targets: seconds
RECONCILE_TARGET_DEVICES = 100_000
SETTLE_TARGET_DEVICES = 10_000
CADENCE_S = 300  # the program's telemetry cadence
START = datetime(2026, 7, 15, 18, 0, tzinfo=UTC)


def _series(n_param: str) -> tuple[str, str]:
    """(WITH prefix, FROM item) yielding integers n = 1..N."""
    from django.db import connection

    if connection.vendor == "postgresql":
        return "", f"generate_series(1, {n_param}) AS g(n)"
    return (
        f"WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {n_param}) ",  # noqa: S608
        "g",
    )


def _insert_devices(cursor, *, utility_id: int, n: int) -> None:
    from django.db import connection

    from devices.models import Device

    columns, values, params = [], [], []
    for field in Device._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(field.column)
        if field.name == "utility":
            values.append("%s")
            params.append(utility_id)
        elif field.name == "serial":
            values.append("'BENCH' || CAST(n AS TEXT)")
        elif field.name in ("max_discharge_w", "max_charge_w"):
            values.append("5000")
        elif field.name == "created_at":
            values.append("%s")
            params.append(connection.ops.adapt_datetimefield_value(START))
        else:
            values.append("%s")
            params.append(field.get_db_prep_save(field.get_default(), connection))
    with_, from_ = _series("%s")
    cursor.execute(
        f"{with_}INSERT INTO {Device._meta.db_table} ({', '.join(columns)}) "  # noqa: S608
        f"SELECT {', '.join(values)} FROM {from_}",
        [n, *params] if with_ else [*params, n],
    )


def _insert_telemetry(cursor, *, utility_id: int) -> int:
    """Every device: 6 readings before the event at 0 W, 12 during; a spread of responses."""
    from django.db import connection

    from devices.models import Device, TelemetrySample

    adapt = connection.ops.adapt_datetimefield_value
    if connection.vendor == "postgresql":
        at = "CAST(%s AS timestamptz) + k.k * interval '300 seconds'"
        ks = "generate_series(-6, 11) AS k(k)"
        prefix = ""
    else:
        at = "datetime(%s, (k.k * 300) || ' seconds')"
        prefix = "WITH RECURSIVE k(k) AS (SELECT -6 UNION ALL SELECT k + 1 FROM k WHERE k < 11) "
        ks = "k"
    # During: 2,000 to 5,800 W by device id; every 50th device goes silent halfway.
    cursor.execute(
        f"{prefix}INSERT INTO {TelemetrySample._meta.db_table} "  # noqa: S608
        "(device_id, utility_id, at, channel, value) "
        f"SELECT d.id, d.utility_id, {at}, 'w', "
        "CASE WHEN k.k < 0 THEN 0 ELSE 2000 + (d.id %% 20) * 200 END "
        f"FROM {Device._meta.db_table} d CROSS JOIN {ks} "
        "WHERE d.utility_id = %s AND NOT (d.id %% 50 = 0 AND k.k >= 6)",
        [adapt(START), utility_id],
    )
    cursor.execute(
        f"SELECT COUNT(*) FROM {TelemetrySample._meta.db_table} WHERE utility_id = %s",  # noqa: S608
        [utility_id],
    )
    return cursor.fetchone()[0]


def _run(devices: int, *, slug: str = "bench") -> dict[str, float]:
    """Seed one utility with ``devices``, reconcile its event and settle its season.

    Returns the seconds taken by ``event_reconcile`` (first run) and ``season_settle``.
    """
    from django.db import connection, transaction

    from devices.models import Device
    from programs.models import Dispatch, Participant, Season
    from settlement.models import EventResult, Payee, PaymentLine, SettlementRules
    from settlement.selectors import payment_file_csv
    from settlement.services import event_reconcile, payment_batch_create, season_settle
    from tests import factories

    def timed(label, fn, rows=None):
        started = time.perf_counter()
        value = fn()
        took = time.perf_counter() - started
        count = rows(value) if callable(rows) else rows
        rate = f", {count / took:,.0f} rows/s" if count and took > 0 else ""
        print(f"  {label:<42} {took:8.2f} s{f' ({count:,} rows{rate})' if count else ''}")
        seconds[label] = took
        return value

    seconds: dict[str, float] = {}

    utility = factories.utility(f"Bench Power {slug}", slug=slug, timezone="UTC")
    program = factories.program(utility, telemetry_cadence_s=CADENCE_S)
    SettlementRules.objects.create(
        utility=utility,
        program=program,
        kw_season_rate=Decimal("40"),
        kwh_rate=Decimal("0.25"),
        participation_rate=Decimal("1.25"),
    )
    season = Season.objects.create(
        utility=utility,
        program=program,
        name="Summer",
        start_date=date(2026, 6, 1),
        end_date=date(2026, 9, 30),
    )
    group = factories.dispatch_group(utility, prog=program)
    event = factories.event(
        utility, group=group, start=START, duration_s=3600, status="completed", target_w=400_000_000
    )
    with connection.cursor() as cursor, transaction.atomic():
        timed(
            "devices (INSERT ... SELECT)",
            lambda: _insert_devices(cursor, utility_id=utility.pk, n=devices),
            rows=devices,
        )
        adapt = connection.ops.adapt_datetimefield_value
        timed(
            "dispatches, participants, payees",
            lambda: [
                cursor.execute(
                    f"INSERT INTO {Dispatch._meta.db_table} "  # noqa: S608
                    "(utility_id, event_id, device_id, setpoint_w, committed_w, last_response) "
                    f"SELECT utility_id, %s, id, 4000, 4000, 3 FROM {Device._meta.db_table} "
                    "WHERE utility_id = %s",
                    [event.pk, utility.pk],
                ),
                cursor.execute(
                    f"INSERT INTO {Participant._meta.db_table} "  # noqa: S608
                    "(utility_id, program_id, device_id, joined_at) "
                    f"SELECT utility_id, %s, id, %s FROM {Device._meta.db_table} "
                    "WHERE utility_id = %s",
                    [program.pk, adapt(datetime(2026, 1, 1, tzinfo=UTC)), utility.pk],
                ),
                cursor.execute(
                    f"INSERT INTO {Payee._meta.db_table} "  # noqa: S608
                    "(utility_id, device_id, account_number) "
                    f"SELECT utility_id, id, 'ACCT' || CAST(id AS TEXT) "
                    f"FROM {Device._meta.db_table} WHERE utility_id = %s",
                    [utility.pk],
                ),
            ],
            rows=3 * devices,
        )
        samples = timed(
            "telemetry samples (INSERT ... SELECT)",
            lambda: _insert_telemetry(cursor, utility_id=utility.pk),
            rows=lambda n: n,
        )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    print(f"  {samples:,} samples for {devices:,} devices")

    run = timed("event_reconcile (first run)", lambda: event_reconcile(event=event), rows=devices)
    again = timed("event_reconcile (unchanged inputs)", lambda: event_reconcile(event=event))
    print(
        f"  run v{run.version}, re-run returned v{again.version} (same run: {run.pk == again.pk})"
    )
    flags = run.inputs["counts"]["flags"]
    print(f"  results: {EventResult.objects.filter(run=run).count():,}, flags {flags}")

    settlement = timed("season_settle", lambda: season_settle(season=season), rows=devices)
    lines = PaymentLine.objects.filter(payment__settlement=settlement).count()
    print(
        f"  {settlement.payments.count():,} payments, {lines:,} lines, total ${settlement.total:,}"
    )
    batch = timed(
        "payment_batch_create",
        lambda: payment_batch_create(program=program, period="Summer 2026", settlement=settlement),
    )
    csv = timed("payment file CSV", lambda: payment_file_csv(batch=batch), rows=devices)
    print(f"  payment file: {len(csv):,} bytes")
    return {
        "reconcile": seconds["event_reconcile (first run)"],
        "settle": seconds["season_settle"],
    }


def _target_line(label: str, took: float, devices: int, target_devices: int) -> str:
    ratio = took / TARGET_S
    line = f"  {label:<34} {took:7.2f} s at {devices:,} devices; target {TARGET_S:.0f} s"
    if devices == target_devices:
        return f"{line}: ratio {ratio:.2f} ({'met' if ratio < 1 else 'NOT met'})"
    return f"{line} at {target_devices:,}: not measured at that size (ratio n/a)"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.settlement")
    parser.add_argument("--devices", type=int, default=DEFAULT_DEVICES)
    parser.add_argument("--season-devices", type=int, default=DEFAULT_SEASON_DEVICES)
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from django.db import connection

    settings_dict = connection.settings_dict
    print(
        f"  database: {connection.vendor} "
        f"({'DATABASE_URL' if os.environ.get('DATABASE_URL') else 'default settings'}), "
        f"bench copy of {settings_dict['NAME']}; {args.devices:,} devices"
    )
    from bench._django import throwaway_copy

    with throwaway_copy():
        large = _run(args.devices)
        season = large
        if args.season_devices and args.season_devices != args.devices:
            print(f"  --- season scenario: {args.season_devices:,} devices")
            season = _run(args.season_devices, slug="bench-season")
        print(
            f"  targets (issue 18); load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}"
        )
        print(
            _target_line(
                "event_reconcile", large["reconcile"], args.devices, RECONCILE_TARGET_DEVICES
            )
        )
        season_size = args.season_devices or args.devices
        print(_target_line("season_settle", season["settle"], season_size, SETTLE_TARGET_DEVICES))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
