"""ASGI entry for `bench.sep2`: the real Django stack plus one static 2030.5-ish view."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.core.handlers.asgi import ASGIHandler  # noqa: E402

settings.ROOT_URLCONF = "bench.sep2_urls"
application = ASGIHandler()
