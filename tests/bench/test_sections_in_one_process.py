"""`make bench` runs every section in one process, one after another.

The settlement section reconciles in a throwaway copy of the bench database (Django's test
database machinery). With the PostgreSQL connection pool, a pool opened by an earlier
section kept pointing at the bench database itself: the section then filled the bench
database instead of its copy, and after it every connection asked for the dropped copy.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
from bench import _django

_django.setup()
from django.db import connection

def current():
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database()")
        return cursor.fetchone()[0]

bench_db = current()  # opens the pool on the bench database, as an earlier section does

from bench import settlement
from devices.models import Device

devices_before = Device.objects.count()

seen = {}
real_run = settlement._run

def spy(devices, **kwargs):
    seen["inside"] = current()
    return real_run(devices, **kwargs)

settlement._run = spy
settlement.main(["--devices", "20", "--season-devices", "0"])
print("bench", bench_db)
print("inside", seen["inside"])
print("after", current())
print("devices added", Device.objects.count() - devices_before)
"""


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
    reason="the connection pool is PostgreSQL's",
)
def test_settlement_section_uses_its_copy_and_gives_the_database_back():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    lines = dict(line.rsplit(" ", 1) for line in done.stdout.splitlines() if line[:1] != " ")
    assert lines["inside"] == f"test_{lines['bench']}"
    assert lines["after"] == lines["bench"]
    assert lines["devices added"] == "0"
