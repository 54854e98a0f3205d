"""The device list page's queries at fleet scale (default 100,000 devices).

    python -m bench.device_list [--devices 100000]

Times what the portal's device list runs per page: the COUNT for the paginator and one
page of 50 with health computed in SQL, unfiltered and filtered. Configured database.
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=100_000)
    args = parser.parse_args(argv)

    from bench._django import setup, throwaway_utility

    print(f"database: {setup()}")
    from django.utils import timezone

    from devices.models import Device
    from devices.selectors import device_search
    from devices.views import LIST_COLUMNS

    now = timezone.now()
    utility = throwaway_utility("bench-list")
    try:
        began = time.perf_counter()
        Device.objects.bulk_create(
            (
                Device(
                    utility=utility,
                    vendor_name=("Acme", "Volt", "Sunny")[i % 3],
                    model_name="B",
                    serial=f"L{i:07d}",
                    state=("OR", "WA", "CA")[i % 3],
                    zip_code=f"97{i % 1000:03d}",
                    soc_pct=i % 100,
                    last_heard_at=now - timedelta(minutes=i % 120),
                )
                for i in range(args.devices)
            ),
            batch_size=5000,
        )
        print(f"created {args.devices:,} devices in {time.perf_counter() - began:.1f} s")
        cases = {
            "all": {},
            "health=stale": {"health": "stale"},
            "vendor+state": {"vendor_name": "Volt", "state": "WA"},
            "serial search": {"q": "L00123"},
        }
        print(f"{'filter':<14} {'count ms':>9} {'page ms':>8} {'rows':>8}")
        for label, filters in cases.items():
            qs = (
                device_search(utility=utility, now=now, **filters)
                .only(*LIST_COLUMNS)
                .order_by("vendor_name", "serial", "id")
            )
            began = time.perf_counter()
            count = qs.count()
            t_count = time.perf_counter() - began
            began = time.perf_counter()
            list(qs[1000:1050])
            t_page = time.perf_counter() - began
            print(f"{label:<14} {t_count * 1000:>9.1f} {t_page * 1000:>8.1f} {count:>8,}")
    finally:
        began = time.perf_counter()
        Device.objects.filter(utility=utility).delete()
        utility.delete()
        print(f"cleanup {time.perf_counter() - began:.1f} s")


if __name__ == "__main__":
    main()
