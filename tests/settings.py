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

# Keep tasks queued by tests out of the broker folder a developer's `make run` consumes.
if CELERY_BROKER_URL == "reservoirfs://":  # noqa: F405
    from pathlib import Path as _Path

    _test_broker = _Path(VAR_DIR) / "test-broker"  # noqa: F405
    for _sub in ("out", "processed", "control"):
        (_test_broker / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_test_broker / "out"),
        "data_folder_out": str(_test_broker / "out"),
        "processed_folder": str(_test_broker / "processed"),
        "control_folder": str(_test_broker / "control"),
        "store_processed": False,
    }
