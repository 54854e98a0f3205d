"""ASGI entry point for the mTLS test: the real Django stack with the echo URLconf."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.core.handlers.asgi import ASGIHandler  # noqa: E402

# Only this throwaway server process serves the echo URLconf.
settings.ROOT_URLCONF = "tests.integration.sep2_echo"
application = ASGIHandler()
