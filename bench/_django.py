"""Set Django up for a benchmark on a throwaway database, never the developer's own.

SQLite (the default) gets ``var/bench.sqlite3``; with ``DATABASE_URL`` pointing at
PostgreSQL, a sibling database ``<name>_bench`` is created on the same server.
"""

import contextlib
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent


def _postgres_bench_url(url: str) -> str:
    import psycopg

    parts = urlsplit(url)
    name = f"{parts.path.lstrip('/') or 'postgres'}_bench"
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}"))


def setup() -> str:
    """Point Django at the bench database, migrate it, and describe it."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        os.environ["DATABASE_URL"] = _postgres_bench_url(url)
    else:
        (ROOT / "var").mkdir(exist_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{ROOT / 'var' / 'bench.sqlite3'}"
    # The test settings serve static files from the app folders (pages render uncollected).
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    # One proxy secret for this bench and the servers it starts, which stand in for nginx.
    os.environ.setdefault("SEP2_PROXY_SECRET", secrets.token_hex(32))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from django.db import connection

    return f"{connection.vendor} ({connection.settings_dict['NAME']})"


def throwaway_utility(prefix: str):
    """A fresh utility for one run; deleting it removes everything it owns."""
    import uuid

    from tenancy.models import Utility

    slug = f"{prefix}-{uuid.uuid4().hex[:8]}"
    return Utility.objects.create(name=f"Bench {slug}", slug=slug)


def kept_utility_manager(slug: str, name: str):
    """A utility kept between runs (its rows are costly to make) and its program manager."""
    from tenancy.choices import Role
    from tenancy.models import Membership, Utility
    from tests import factories

    utility, _ = Utility.objects.get_or_create(slug=slug, defaults={"name": name})
    manager = Membership.objects.filter(utility=utility, role=Role.PROGRAM_MANAGER).first()
    user = manager.user if manager else factories.member(utility, Role.PROGRAM_MANAGER)
    return utility, user


def analyze(*models) -> None:
    """ANALYZE what a bench has just bulk-loaded (tenancy.db.analyze)."""
    from tenancy.db import analyze as analyze_tables

    analyze_tables(*models)


def _close_connections() -> None:
    """Close the connection and, on PostgreSQL, its pool, which keeps the database name it
    was opened with whatever ``settings_dict`` says later."""
    from django.db import connection

    connection.close()
    close_pool = getattr(connection, "close_pool", None)
    if close_pool is not None:
        close_pool()


@contextlib.contextmanager
def throwaway_copy():
    """Run the block in a fresh copy of the configured database (Django's test database),
    dropped afterwards; connections opened before and after use the database itself."""
    from django.db import connection

    _close_connections()
    # create_test_db returns the copy's name: the name to give back is read before.
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        _close_connections()
