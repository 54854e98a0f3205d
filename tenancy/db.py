"""Database upkeep shared by every app."""

import contextlib

from django.conf import settings
from django.db import connection

# Below this many rows a load leaves the planner's statistics to autovacuum.
ANALYZE_AFTER_ROWS = 1000


def analyze(*models) -> None:
    """Refresh the planner's statistics for tables a bulk load has just filled.

    Fresh bulk rows with stale statistics made PostgreSQL pick nested loops over a
    million rows for a two-table count (issue 18). SQLite keeps its own: ANALYZE too.
    """
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


# What a connection's prepare_threshold becomes when Django left it at None (no preparing at
# all): one_row asks for its statements by name; nothing else is ever prepared on its own.
_ASKED_ONLY = 2**31


def one_row(sql: str, params: list) -> tuple | None:
    """The first row of a statement that a hot path sends again and again.

    On PostgreSQL it is prepared on the server once per connection and then only bound and
    run: parsing, analysing and planning were half of PostgreSQL's CPU for a DERStatus PUT's
    one statement (issue 18). Django's cursors bind on the client and never prepare, so the
    statement goes through a psycopg server-binding cursor on the same connection, with
    Django's error translation and query log (django_assert_num_queries counts it).
    DATABASE_PREPARED_STATEMENTS = False (a pooler in transaction mode that does not keep
    prepared statements) sends it as any other. Elsewhere it is an ordinary execute.
    """
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql" or not getattr(
            settings, "DATABASE_PREPARED_STATEMENTS", True
        ):
            cursor.execute(sql, params)
            return cursor.fetchone()
        import psycopg

        raw = cursor.cursor.connection
        if raw.prepare_threshold is None:
            raw.prepare_threshold = _ASKED_ONLY
        debug_sql = getattr(cursor, "debug_sql", None)
        with debug_sql(sql, params) if debug_sql else contextlib.nullcontext():
            with connection.wrap_database_errors, psycopg.Cursor(raw) as prepared:
                prepared.execute(sql, params, prepare=True)
                return prepared.fetchone()


def insert_rows(model, fields: list[str], rows: list[tuple], *, ids: bool = False) -> list[int]:
    """Insert ``rows`` (tuples of values for ``fields``, attnames) into ``model``'s table.

    For the hundred-thousand-row writes of settlement: building a model instance per row
    cost more than the rest of a season settlement (issue 18). PostgreSQL gets one COPY
    of plain tuples; with ``ids`` the primary keys are drawn from the table's sequence
    first (one query) and returned in row order, so rows pointing at these can be built.
    Values go as given (psycopg adapts them; a Decimal stays exact; JSON fields are
    wrapped for their column). SQLite builds the instances and uses ``bulk_create``.
    ``save()`` and signals are skipped, as with ``bulk_create``. Returns the new ids when
    ``ids`` is set, else an empty list.
    """
    if not rows:
        return []
    meta = model._meta
    if connection.vendor != "postgresql":
        objs = model.objects.bulk_create(
            [model(**dict(zip(fields, row, strict=True))) for row in rows], batch_size=5000
        )
        return [obj.pk for obj in objs] if ids else []
    from django.db.models import JSONField
    from psycopg.types.json import Jsonb

    by_attname = {f.attname: f for f in meta.concrete_fields}
    json_at = [i for i, name in enumerate(fields) if isinstance(by_attname[name], JSONField)]
    columns = [by_attname[name].column for name in fields]
    new_ids: list[int] = []
    with connection.cursor() as cursor:
        if ids:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [meta.db_table, meta.pk.column, len(rows)],
            )
            new_ids = [new_id for (new_id,) in cursor.fetchall()]
            columns = [meta.pk.column, *columns]
        quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
        sql = f"COPY {connection.ops.quote_name(meta.db_table)} ({quoted}) FROM STDIN"
        # Django's query log (and so django_assert_num_queries) does not see COPY: count it.
        debug_sql = getattr(cursor, "debug_sql", None)
        with debug_sql(sql) if debug_sql else contextlib.nullcontext():
            with cursor.cursor.copy(sql) as copy:
                for n, row in enumerate(rows):
                    if json_at:
                        row = tuple(Jsonb(v) if i in json_at else v for i, v in enumerate(row))
                    copy.write_row((new_ids[n], *row) if ids else row)
    return new_ids
