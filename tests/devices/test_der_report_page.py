"""The device page shows the connection point (NMI) and the DER status and settings in words."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from devices.services import (
    DeviceStatus,
    device_set_connection_point,
    device_update_ratings,
    device_update_settings,
    device_update_status,
)
from tests import factories

pytestmark = pytest.mark.django_db


def page_text(client, device) -> str:
    response = client.get(reverse("devices:device-detail", args=[device.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_device_page_shows_nmi_status_and_settings_in_words(client_a, utility_a):
    device = factories.device(utility_a)
    text = page_text(client_a, device)
    assert "DER status and settings" in text and "not reported" in text

    device_set_connection_point(device=device, connection_point_id=" 4103035611 ")
    device_update_ratings(device=device, rtg_max_w=5000, doe_modes_supported=0x0F)
    device_update_settings(
        device=device,
        set_max_w=4500,
        doe_modes_enabled=0x05,
        other={"setGradW": 27, "setESHighFreq": 6010, "setVNom": 230.0},
    )
    device_update_status(
        device=device,
        status=DeviceStatus(
            at=timezone.now(),
            soc_pct=42.5,
            storage_connect_status=0x07,
            gen_connect_status=0x11,
            operating_mode="test",
            alarms=["over current", "under voltage"],
            other={
                "inverterStatus": {"value": 8, "dateTime": 0},
                "storageModeStatus": {"value": 2, "dateTime": 0},
                "localControlModeStatus": {"value": 1, "dateTime": 0},
                "manufacturerStatus": {"value": "OK-42", "dateTime": 0},
            },
        ),
    )
    text = page_text(client_a, device)
    for words in (
        "<code>4103035611</code>",
        "<dt>Operational mode</dt><dd>Test</dd>",
        "<dt>Storage connection</dt><dd>connected, available, operating</dd>",
        "<dt>Generation connection</dt><dd>connected, fault</dd>",
        "<dt>Alarms</dt><dd>over current, under voltage</dd>",
        "<dt>State of charge status</dt><dd>42.5 %</dd>",
        "<dt>Inverter</dt><dd>Standby</dd>",
        "<dt>Storage mode</dt><dd>Holding</dd>",
        "<dt>Control</dt><dd>Local control</dd>",
        "<dt>Manufacturer status</dt><dd>OK-42</dd>",
        "export limit (opModExpLimW), import limit (opModImpLimW), generation limit "
        "(opModGenLimW), load limit (opModLoadLimW)",
        "<dt>DOE modes enabled</dt><dd>export limit (opModExpLimW), generation limit "
        "(opModGenLimW)</dd>",
        "<dt>Ramp rate</dt><dd>0.27 % of max W per s</dd>",
        "<dt>Enter-service high frequency</dt><dd>60.1 Hz</dd>",
        "<dt>Nominal voltage</dt><dd>230 V</dd>",
    ):
        assert words in text, words


def test_an_empty_connection_point_is_refused(utility_a):
    device = factories.device(utility_a)
    with pytest.raises(ValidationError):
        device_set_connection_point(device=device, connection_point_id="   ")
    with pytest.raises(ValidationError):
        device_set_connection_point(device=device, connection_point_id="9" * 33)
    device.refresh_from_db()
    assert device.connection_point_id == ""


def test_another_utilitys_device_page_is_404(client_a, utility_b):
    device = factories.device(utility_b)
    device_set_connection_point(device=device, connection_point_id="QB01234567")
    response = client_a.get(reverse("devices:device-detail", args=[device.pk]))
    assert response.status_code == 404


def test_api_device_detail_carries_the_nmi_and_status(api_a, utility_a):
    device = factories.device(utility_a)
    device_set_connection_point(device=device, connection_point_id="4103035611")
    device_update_status(
        device=device,
        status=DeviceStatus(at=timezone.now(), gen_connect_status=0x03, alarms=["over voltage"]),
    )
    body = api_a.get(f"/api/v1/devices/{device.pk}/").json()
    assert body["connection_point_id"] == "4103035611"
    assert (body["gen_connect_status"], body["alarms"]) == (3, ["over voltage"])
    assert body["doe_modes_enabled"] is None
