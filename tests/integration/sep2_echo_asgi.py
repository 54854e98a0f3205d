"""ASGI entry point for the mTLS test: the real Django stack with the echo URLconf."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
os.environ.setdefault("ROOT_URLCONF_OVERRIDE", "tests.integration.sep2_echo")
django.setup()

from django.conf import settings  # noqa: E402
from django.core.handlers.asgi import ASGIHandler  # noqa: E402

# Only this throwaway server process uses the echo URLconf.
settings.ROOT_URLCONF = os.environ["ROOT_URLCONF_OVERRIDE"]
application = ASGIHandler()
