"""The 2030.5 listener's ASGI entry point: only the 2030.5 paths, behind nginx.

Run it without --proxy-headers on a loopback port (or socket) that only nginx reaches;
see portal.listeners and portal.processes.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django_asgi_app = get_asgi_application()

from portal.listeners import Sep2Http  # noqa: E402  (needs Django set up first)

application = Sep2Http(django_asgi_app)
