"""The devices domain sits below programs and knows no transport; pymodbus stays in its corner."""

from pathlib import Path

import pytest
from django.conf import settings

from tests.protocol.test_boundaries import imported_modules

ROOT = Path(settings.BASE_DIR)
DOMAIN_MODULES = ["models", "services", "selectors", "tasks", "signals", "choices", "admin"]
FORBIDDEN = ("pymodbus", "lxml", "programs", "protocol", "devices.connectors", "devices.simulator")


def _offends(module: str) -> bool:
    return any(module == f or module.startswith(f"{f}.") for f in FORBIDDEN)


@pytest.mark.parametrize("name", DOMAIN_MODULES)
def test_devices_domain_imports_no_transport_and_not_programs(name):
    path = ROOT / "devices" / f"{name}.py"
    assert sorted(m for m in imported_modules(path) if _offends(m)) == []


def test_pymodbus_only_in_connectors_and_simulator():
    allowed = [ROOT / "devices" / "connectors", ROOT / "devices" / "simulator"]
    offenders = []
    for app in ["portal", "programs", "enrollment", "devices", "settlement", "protocol"]:
        for path in (ROOT / app).rglob("*.py"):
            if any(path.is_relative_to(a) for a in allowed):
                continue
            if any(m == "pymodbus" or m.startswith("pymodbus.") for m in imported_modules(path)):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
