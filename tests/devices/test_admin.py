import pytest

from devices.services import Reading, telemetry_ingest, telemetry_rollup
from tests.devices.conftest import NOW


@pytest.mark.parametrize("model", ["device", "telemetrysample", "telemetryrollup"])
def test_admin_lists_and_searches(admin_client, settings, utility, device, model):
    # Tests run without collectstatic: serve admin assets unhashed.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    telemetry_ingest(
        utility=utility,
        readings=[Reading(device_id=device.pk, at=NOW, channel="w", value=1)],
        source="test",
        now=NOW,
    )
    telemetry_rollup(since=NOW, until=NOW)

    listing = admin_client.get(f"/admin/devices/{model}/")
    search = admin_client.get(f"/admin/devices/{model}/", {"q": device.serial})

    assert listing.status_code == 200
    assert search.status_code == 200
    assert device.serial in search.content.decode()


def test_admin_lists_pending_rollup_hours(admin_client, settings, utility, device):
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    telemetry_ingest(
        utility=utility,
        readings=[Reading(device_id=device.pk, at=NOW, channel="w", value=1)],
        source="test",
        now=NOW,
    )

    response = admin_client.get("/admin/devices/telemetryrolluppending/", {"q": utility.name})

    assert response.status_code == 200
    assert "1 telemetry rollup pending" in response.content.decode()
