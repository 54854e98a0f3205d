import threading
from datetime import timedelta

import pytest
from django.db import connections

from devices.models import Device, TelemetrySample
from devices.services import Reading, device_register, telemetry_ingest
from tenancy.models import Utility
from tests.devices.conftest import NOW


@pytest.mark.django_db(transaction=True)
def test_concurrent_resends_store_each_reading_once():
    utility = Utility.objects.create(name="Concurrent Power", slug="concurrent")
    devices = [
        device_register(utility=utility, vendor_name="Acme", model_name="X", serial=f"C{i}")
        for i in range(4)
    ]
    readings = [
        Reading(device_id=d.pk, at=NOW - timedelta(seconds=s), channel="w", value=float(s))
        for d in devices
        for s in range(50)
    ]
    results = []
    errors = []
    start = threading.Barrier(4)

    def send():
        try:
            start.wait()
            results.append(
                telemetry_ingest(utility=utility, readings=readings, source="t", now=NOW)
            )
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(r.accepted for r in results) == len(readings)
    assert sum(r.duplicates for r in results) == 3 * len(readings)
    assert TelemetrySample.objects.count() == len(readings)
    assert {d.power_w for d in Device.objects.all()} == {0.0}
