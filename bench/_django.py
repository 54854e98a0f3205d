"""Django set-up for the benchmarks that use the database (the configured one)."""

import os


def setup() -> str:
    """Configure Django, apply migrations, and describe the database in use."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0, interactive=False)
    settings = connection.settings_dict
    where = settings.get("HOST") or "local"
    return f"{connection.vendor} {settings['NAME']} ({where})"


def throwaway_utility(prefix: str):
    """A fresh utility for one run; ``drop`` removes it with everything it owns."""
    import uuid

    from portal.models import Utility

    slug = f"{prefix}-{uuid.uuid4().hex[:8]}"
    return Utility.objects.create(name=f"Bench {slug}", slug=slug)
