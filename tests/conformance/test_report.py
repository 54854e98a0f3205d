"""The harness's report: the first failing check a cactus log names, the table, JUnit XML."""

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from django.conf import settings

sys.path.insert(0, str(Path(settings.BASE_DIR) / "conformance" / "reservoir_cactus_admin"))

from reservoir_cactus_admin.report import (
    Outcome,
    first_failure,
    render_table,
    write_junit,
)

LOG = """\
2026-12-06 11:31:54,136 INFO x add_log - DISCOVERY[0] Attempt 0: Beginning execution.
2026-12-06 11:31:56,485 INFO x add_log - DISCOVERY[0] Attempt 0: Check Failure: first miss
2026-12-06 11:32:01,485 INFO x add_log - DISCOVERY[0] Attempt 1: Check Failure: later miss
"""


def test_a_step_marked_failed_wins():
    log = LOG + (
        "2026-12-06 11:32:02,000 INFO x add_log - READINGS[0] Attempt 0: "
        "READINGS has been marked as failed: Received 400 from POST /mup/8\n"
    )
    assert first_failure(log) == "READINGS: Received 400 from POST /mup/8"


def test_a_repeat_until_pass_step_reports_its_last_miss_and_the_timeout():
    log = (
        LOG
        + "2026-12-06 11:36:54,000 ERROR x y - Aborting test due to timeout after 300 seconds.\n"
    )
    assert first_failure(log) == "DISCOVERY: later miss (still failing at the 300 s timeout)"


def test_an_exception_is_reported():
    log = (
        "2026-12-06 11:31:54,136 INFO x add_log - PRECONDITION[0] Attempt 0: "
        "Exception raised during action/check: the API cannot create X\n"
    )
    assert first_failure(log) == "PRECONDITION: the API cannot create X"
    assert first_failure("nothing to see") == ""


def test_table_and_junit(tmp_path):
    outcomes = [
        Outcome("S-ALL-01", "PASS", seconds=3),
        Outcome("S-ALL-02", "FAIL", "DISCOVERY: drift", seconds=4),
        Outcome("S-ALL-03", "ERROR", "set-up", seconds=1),
    ]
    table = render_table(outcomes)
    assert "| S-ALL-02  | FAIL   | DISCOVERY: drift" in table
    assert table.endswith("1 of 3 passed")
    path = tmp_path / "junit.xml"
    write_junit(outcomes, path, 8.0)
    suite = ET.parse(path).getroot()  # noqa: S314 (the file this test just wrote)
    assert suite.get("tests") == "3" and suite.get("failures") == "1" and suite.get("errors") == "1"
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert cases["S-ALL-01"].find("failure") is None
    assert cases["S-ALL-02"].find("failure").get("message") == "DISCOVERY: drift"
    assert cases["S-ALL-03"].find("error") is not None
