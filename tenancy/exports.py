"""The one way the portal writes CSV: cells a spreadsheet would read as a formula become text.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is prefixed with
``'`` (OWASP's advice against CSV injection), so a customer named ``=HYPERLINK(...)`` stays
a name in the utility's spreadsheet. Numbers are numbers: ``-5.00`` is written as it is.
"""

import csv
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


def spreadsheet_cell(value: Any) -> str:
    """The text to write for one cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float | Decimal):
        return str(value)
    text = str(value)
    if text.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


class SpreadsheetCsvWriter:
    """``csv.writer`` whose every cell goes through :func:`spreadsheet_cell`."""

    def __init__(self, out, **fmtparams):
        self._writer = csv.writer(out, **fmtparams)

    def writerow(self, row: Iterable[Any]):
        return self._writer.writerow([spreadsheet_cell(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[Any]]):
        for row in rows:
            self.writerow(row)
