"""The real settings, with static files served from the app folders (no collectstatic)."""

from portal.settings import *  # noqa: F403
from portal.settings import STORAGES

WHITENOISE_USE_FINDERS = True
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# PBKDF2's deliberate slowness buys nothing in tests that create many users. Subprocesses
# started by tests use these settings too, so they verify the same hashes.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
