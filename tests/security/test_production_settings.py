"""Under DJANGO_ENV=production the deploy check is clean and every response carries the headers."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json
from django.test import Client
plain = Client().get("/accounts/login/")
proxied = Client().get("/accounts/login/", headers={"X-Forwarded-Proto": "https"})
print(json.dumps({
    "plain_status": plain.status_code,
    "plain_location": plain.get("Location", ""),
    "status": proxied.status_code,
    "headers": dict(proxied.headers),
    "cookies": {k: {"secure": bool(v["secure"]), "httponly": bool(v["httponly"])}
                for k, v in proxied.cookies.items()},
}))
"""


def _production_env(tmp_path) -> dict:
    # What deploy sets, not what this test process carries: the browser tests set
    # DJANGO_ALLOW_ASYNC_UNSAFE for themselves, and no deployment ever does.
    test_only = {"DEBUG", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {k: v for k, v in os.environ.items() if k not in test_only}
    env.update(
        DJANGO_ENV="production",
        DJANGO_SETTINGS_MODULE="portal.settings",
        SECRET_KEY="x" * 10 + "a-long-production-secret-key-with-many-different-chars-9876",
        ALLOWED_HOSTS="reservoir.example,testserver",
        SEP2_IANA_PEN="55555",  # production sets its own (the default is for documentation)
        RESERVOIR_VAR_DIR=str(tmp_path),
        # No collectstatic in tests: serve from the app folders, as tests.settings does.
        WHITENOISE_USE_FINDERS="1",
    )
    return env


def _manage(tmp_path, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=_production_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_passes_with_no_warnings_in_production(tmp_path):
    result = _manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_responses_are_https_only_with_the_security_headers(tmp_path):
    result = _manage(tmp_path, "shell", "-c", PROBE)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["plain_status"] == 301
    assert seen["plain_location"] == "https://testserver/accounts/login/"
    assert seen["status"] == 200
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    hsts = headers["strict-transport-security"]
    assert "max-age=31536000" in hsts
    assert "includeSubDomains" in hsts
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "same-origin"
    assert seen["cookies"]["csrftoken"]["secure"] is True


def test_production_refuses_to_start_without_a_configured_secret_key(tmp_path):
    env = _production_env(tmp_path)
    del env["SECRET_KEY"]
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr
