"""The 2030.5 listener's ASGI entry point: only the 2030.5 paths, behind nginx.

Run it without --proxy-headers on a loopback port (or socket) that only nginx reaches;
see portal.listeners and portal.processes.
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django.setup(set_prefix=False)

from portal import live  # noqa: E402  (needs Django set up first)
from portal.listeners import Sep2Handler, Sep2Http  # noqa: E402
from protocol import seen  # noqa: E402

# Polls note last-seen and last-poll times in memory; a thread writes them in sets.
seen.flush_in_background()
# Ingests mark the live aggregates dirty in memory; a thread writes the marks in sets.
live.mark_in_background()

# The lean path: 2030.5 URLs only, no portal middleware, cached GETs without Django.
application = Sep2Http(Sep2Handler())
