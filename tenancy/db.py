"""Database upkeep shared by every app."""

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
