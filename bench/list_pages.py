"""List pages at fleet scale: the device list and the enrollment queue with 100,000 rows each.

python -m bench list_pages        (or: python -m bench.list_pages --rows 100000)

Renders each page through the Django test client, as a manager would see it, and prints
per case: the rows matched, the paginator's COUNT query time, the whole page time (median
of ``--loads``) and the number of queries. The rows are kept between runs (a fixed utility)
so a second run only measures. Figures only: nothing here asserts a time.
"""

import argparse
import hashlib
import statistics
import time
from datetime import date, timedelta

from bench._django import kept_utility_manager, setup

DEVICE_CASES = {
    "all, page 1": {},
    "all, page 1000": {"page": 1000},
    "health=stale": {"health": "stale"},
    "vendor+state": {"vendor_name": "Volt", "state": "WA"},
    "search serial": {"q": "L00123"},
    "search LFDI": {"q": "lfdi"},  # replaced by a real LFDI prefix at run time
    "search ZIP": {"q": "97012"},
    "bad filter": {"health": "purple"},
}
QUEUE_CASES = {
    "all, page 1": {},
    "all, page 2000": {"page": 2000},
    "state=eligible": {"state": "eligible"},
    "eligibility=failed": {"eligibility": "failed"},
    "search serial": {"q": "E0012345"},
    "search street": {"q": "Birch"},
}


def _lfdi(i: int) -> str:
    return hashlib.sha256(f"bench-device-{i}".encode()).hexdigest()[:40].upper()


def _populate_devices(utility, rows: int) -> None:
    from django.utils import timezone

    from devices.models import Device

    have = Device.objects.for_utility(utility).count()
    if have >= rows:
        return
    now = timezone.now()
    started = time.perf_counter()
    batch = []
    for i in range(have, rows):
        batch.append(
            Device(
                utility=utility,
                vendor_name=("Acme", "Volt", "Sunny")[i % 3],
                model_name="B",
                serial=f"L{i:07d}",
                lfdi=_lfdi(i),
                state=("OR", "WA", "CA")[i % 3],
                zip_code=f"97{i % 1000:03d}",
                soc_pct=i % 100,
                last_heard_at=now - timedelta(minutes=i % 120),
            )
        )
        if len(batch) == 5000:
            Device.objects.bulk_create(batch)
            batch = []
    Device.objects.bulk_create(batch)
    print(f"  created {rows - have:,} devices in {time.perf_counter() - started:.1f} s")


def _populate_enrollments(utility, rows: int) -> None:
    from django.utils import timezone

    from enrollment.models import EligibilityResult, Enrollment, ProgramTerms
    from programs.models import Program, QualifiedEquipment

    have = Enrollment.objects.for_utility(utility).count()
    if have >= rows:
        return
    now = timezone.now()
    program, _ = Program.objects.get_or_create(
        utility=utility, slug="bench-lists", defaults={"name": "Bench list program"}
    )
    equipment, _ = QualifiedEquipment.objects.get_or_create(
        utility=utility,
        program=program,
        vendor_name="Acme",
        model_name="PowerCell",
        defaults={"nameplate_w": 5000, "nameplate_wh": 13500},
    )
    terms = ProgramTerms.objects.filter(program=program).first() or ProgramTerms.objects.create(
        utility=utility, program=program, version=1, body="Terms", published_at=now
    )
    streets = ("Main", "Oak", "Birch", "Cedar", "Elm")
    states = ("submitted", "eligible", "ineligible", "approved", "active", "withdrawn")
    started = time.perf_counter()
    batch = []
    for i in range(have, rows):
        street = f"{i} {streets[i % 5]} St"
        batch.append(
            Enrollment(
                utility=utility,
                program=program,
                email=f"c{i}@example.test",
                street=street,
                city="Portland",
                state_code="OR",
                zip_code="97201",
                site_key=f"{street}|portland|or|97201".lower(),
                account_number=f"{i:010d}",
                vendor_name="Acme",
                model_name="PowerCell",
                equipment=equipment,
                serial=f"E{i:07d}",
                install_date=date(2026, 5, 1),
                terms=terms,
                state=states[i % 6],
                state_changed_at=now,
                submitted_at=now - timedelta(minutes=i),
            )
        )
        if len(batch) == 5000:
            created = Enrollment.objects.bulk_create(batch)
            # One failed rule on every seventh, so the eligibility column has work to do.
            EligibilityResult.objects.bulk_create(
                EligibilityResult(
                    utility=utility,
                    enrollment=e,
                    rule="territory",
                    passed=e.pk % 7 != 0,
                    reason="bench",
                    checked_at=now,
                )
                for e in created
            )
            batch = []
    Enrollment.objects.bulk_create(batch)
    print(f"  created {rows - have:,} enrollments in {time.perf_counter() - started:.1f} s")


def _measure(client, url: str, params: dict, loads: int) -> tuple[int, float, float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url, params)  # warm
    times, count_ms, queries = [], 0.0, 0
    response = None
    for _ in range(loads):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url, params)
            times.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise SystemExit(f"{url} {params} answered {response.status_code}")
        queries = len(captured)
        count_ms = sum(
            float(q["time"]) * 1000
            for q in captured.captured_queries
            if q["sql"].startswith("SELECT COUNT(*)")
        )
    matched = response.context["paginator"].count
    return matched, count_ms, statistics.median(times) * 1000, queries


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench list_pages")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--loads", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"database: {setup()}")

    from django.test import Client
    from django.test.utils import setup_test_environment

    utility, user = kept_utility_manager("bench-list-pages", "Bench List Pages")
    _populate_devices(utility, args.rows)
    _populate_enrollments(utility, args.rows)
    setup_test_environment()  # the test client then sees each response's context
    client = Client()
    client.force_login(user)

    DEVICE_CASES["search LFDI"] = {"q": _lfdi(12345)[:8]}
    for title, url, cases in (
        (f"device list ({args.rows:,} devices)", "/devices/", DEVICE_CASES),
        (f"enrollment queue ({args.rows:,} enrollments)", "/enrollments/", QUEUE_CASES),
    ):
        print(f"  {title}")
        print(f"    {'case':<20} {'rows':>8} {'count ms':>9} {'page ms':>8} {'queries':>8}")
        for label, params in cases.items():
            matched, count_ms, page_ms, queries = _measure(client, url, params, args.loads)
            print(f"    {label:<20} {matched:>8,} {count_ms:>9.1f} {page_ms:>8.1f} {queries:>8}")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
