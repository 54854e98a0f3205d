from datetime import UTC, datetime

import pytest

from devices.services import device_register
from tenancy.models import Utility

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def utility(db):
    return Utility.objects.create(name="Pacific Power", slug="pacific")


@pytest.fixture
def other_utility(db):
    return Utility.objects.create(name="Rocky Mountain Power", slug="rocky")


@pytest.fixture
def make_device(utility):
    counter = iter(range(1, 100_000))

    def make(*, utility=utility, **fields):
        fields.setdefault("vendor_name", "Acme")
        fields.setdefault("model_name", "PowerCell 10")
        fields.setdefault("serial", f"SN{next(counter):05d}")
        fields.setdefault("max_charge_w", 5000)
        fields.setdefault("max_discharge_w", 5000)
        fields.setdefault("capacity_wh", 13500)
        return device_register(utility=utility, **fields)

    return make


@pytest.fixture
def device(make_device):
    return make_device()
