"""tenancy.db.one_row: a hot path's statement is prepared on PostgreSQL once per connection,
then only bound and run (issue 18: parsing and planning were half of PostgreSQL's CPU for a
DERStatus PUT), counted as a query, and its errors are Django's."""

import pytest
from django.db import IntegrityError, connection, transaction

from tenancy.db import one_row
from tests import factories

pytestmark = pytest.mark.django_db

STATEMENT = "SELECT id, name FROM tenancy_utility WHERE id = %s"
# The utility's row again: its primary key refuses it.
INSERT = "INSERT INTO tenancy_utility SELECT * FROM tenancy_utility WHERE id = %s RETURNING id"


def _prepared(sql: str) -> int:
    """How many of this connection's prepared statements are `sql` (as the server has it)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement = %s",
            [sql.replace("%s", "$1")],
        )
        return cursor.fetchone()[0]


def test_it_answers_the_first_row_with_one_counted_query(django_assert_num_queries):
    utility = factories.utility()
    with django_assert_num_queries(1):
        assert one_row(STATEMENT, [utility.pk]) == (utility.pk, utility.name)
    assert one_row(STATEMENT, [utility.pk + 10_000]) is None


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_the_statement_is_prepared_once_and_run_again_by_name():
    utility = factories.utility()
    assert _prepared(STATEMENT) == 0
    for _ in range(3):
        assert one_row(STATEMENT, [utility.pk])[0] == utility.pk
    assert _prepared(STATEMENT) == 1
    # Django's own statements on the same connection stay unprepared.
    assert _prepared("SELECT count(*) FROM pg_prepared_statements WHERE statement = %s") == 0


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_prepared_statements_can_be_turned_off(settings):
    settings.DATABASE_PREPARED_STATEMENTS = False
    utility = factories.utility()
    assert one_row(STATEMENT, [utility.pk])[0] == utility.pk
    assert _prepared(STATEMENT) == 0


def test_its_errors_are_djangos_and_leave_the_connection_usable():
    utility = factories.utility()
    with pytest.raises(IntegrityError), transaction.atomic():
        one_row(INSERT, [utility.pk])
    assert one_row(STATEMENT, [utility.pk])[0] == utility.pk
