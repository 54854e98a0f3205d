"""Redis restarted under a live page: the browser shows "reconnecting…" by itself, then
"live" again, and pushes arrive once more without a reload (real ASGI server on its own
redis-server as the channel layer, real browser)."""

import shutil
import time
from datetime import timedelta

import pytest
from channels.layers import channel_layers
from django.core.management import call_command
from django.utils import timezone

from devices.services import Reading, telemetry_ingest
from portal.demo import DEMO_PASSWORD
from tenancy.models import Utility
from tests import factories
from tests.drills.stack import PrivateRedis, free_port
from tests.integration.servers import asgi_server, subprocess_env

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

STATE = "() => document.getElementById('live-state').textContent"


@pytest.fixture
def private_redis(tmp_path, settings):
    """A redis-server of the test's own (the shared one must not be restarted), which both
    the ASGI server and this process use as cache and channel layer, as in production."""
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is required for the live reconnect test (apt-get install redis)")
    redis = PrivateRedis(tmp_path, free_port())
    redis.start()
    settings.REALTIME_RELAY_DIR = None
    # The server's publisher finds what changed in the cache: the same Redis as the server's.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis.url(),
        }
    }
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": redis.url(), "socket_timeout": None}]},
        }
    }
    channel_layers.backends.clear()
    yield redis
    redis.stop()
    channel_layers.backends.clear()


def ingest(utility, devices, watts: float) -> None:
    readings = [
        Reading(device_id=d.pk, at=timezone.now() - timedelta(seconds=1), channel="w", value=watts)
        for d in devices
    ]
    assert telemetry_ingest(utility=utility, readings=readings, source="e2e").accepted == len(
        devices
    )


def test_live_page_reconnects_by_itself_after_redis_restart(
    browser, screenshot, tmp_path, settings, private_redis
):
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", "--quiet")
    cascadia = Utility.objects.get(slug="cascadia")
    devices = [factories.device(cascadia, zip_code=f"97{i}01") for i in range(2)]
    env = subprocess_env(tmp_path, REDIS_URL=private_redis.url())
    with asgi_server(env, tmp_path / "asgi.log") as base:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(f"{base}/accounts/login/")
        page.fill("#id_username", "pm@cascadia.example")
        page.fill("#id_password", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/")
        page.goto(f"{base}/control-room/")
        page.wait_for_function(f"() => ({STATE})() === 'live'")
        page.evaluate("window.__marker = 'same page'")
        ingest(cascadia, devices, 1000.0)
        page.wait_for_function(
            "() => document.getElementById('kpi-power').textContent === '2.0 kW'", timeout=15_000
        )

        private_redis.stop()
        page.wait_for_function(f"() => ({STATE})() === 'reconnecting…'", timeout=20_000)
        badge = page.locator("#live-state")
        assert "status-cancelled" in (badge.get_attribute("class") or "")
        screenshot(page, "reconnecting")
        private_redis.start()
        page.wait_for_function(f"() => ({STATE})() === 'live'", timeout=30_000)
        assert "status-active" in (badge.get_attribute("class") or "")

        # The push works again over the new socket, on the same page.
        time.sleep(1.1)  # one push per second at most
        ingest(cascadia, devices, 3100.0)
        page.wait_for_function(
            "() => document.getElementById('kpi-power').textContent === '6.2 kW'", timeout=15_000
        )
        assert page.evaluate("window.__marker") == "same page"  # no reload happened
        screenshot(page, "live-again")
        page.close()
