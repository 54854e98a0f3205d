"""Publishing site envelopes: a DNSP's batch of DOEs (10,000 NMIs, one interval each) through
POST /api/v1/programs/{id}/site-envelopes/, against a bare bulk_create of the same rows
(the ceiling), in the same run. Then the same batch again (every row replaces one).

    python -m bench site_envelopes
    python -c "import bench.site_envelopes as b; b.main(['--nmis', '2000'])"
"""

import argparse
import os
import time
from datetime import UTC, datetime

DEFAULT_NMIS = 10_000
START = datetime(2026, 7, 1, 4, 0, tzinfo=UTC)


def _rows(n: int, start: datetime, limit_w: int) -> list[dict]:
    return [
        {
            "connection_point_id": f"41{i:08d}",
            "start": start.isoformat(),
            "duration_s": 300,
            "op_mod_exp_lim_w": limit_w,
            "op_mod_imp_lim_w": 10_000,
        }
        for i in range(n)
    ]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench site_envelopes")
    parser.add_argument("--nmis", type=int, default=DEFAULT_NMIS)
    args = parser.parse_args(argv)
    from bench._django import setup, throwaway_utility

    where = setup()
    from programs.models import SiteEnvelope
    from tenancy.choices import Role
    from tests import factories
    from tests.conftest import api_client_for

    print(f"database: {where}; load average {os.getloadavg()[0]:.1f}; {args.nmis:,} NMIs")
    utility = throwaway_utility("doe")
    try:
        program = factories.program(utility, profile="csip_aus", site_envelope_primacy=1)
        api = api_client_for(factories.member(utility, Role.PROGRAM_MANAGER))
        url = f"/api/v1/programs/{program.pk}/site-envelopes/"

        bare = [
            SiteEnvelope(
                utility=utility,
                program=program,
                connection_point_id=f"42{i:08d}",
                start=START,
                duration_s=300,
                op_mod_exp_lim_w=1500,
                op_mod_imp_lim_w=10_000,
            )
            for i in range(args.nmis)
        ]
        began = time.perf_counter()
        SiteEnvelope.objects.bulk_create(bare, batch_size=2000)
        ceiling_s = time.perf_counter() - began

        timings = {}
        for label, limit_w in (("publish", 1500), ("replace all", 1000)):
            body = _rows(args.nmis, START, limit_w)
            began = time.perf_counter()
            response = api.post(url, body, format="json")
            timings[label] = time.perf_counter() - began
            if response.status_code != 201:
                raise SystemExit(f"{label} refused: {response.content[:500]!r}")
        for label, seconds in (("bare bulk_create", ceiling_s), *timings.items()):
            print(
                f"{label:>16}: {seconds:6.2f} s  {args.nmis / seconds:8,.0f} envelopes/s  "
                f"ratio to bare {ceiling_s / seconds:.2f}"
            )
        print(f"load average after: {os.getloadavg()[0]:.1f}")
    finally:
        utility.delete()
