"""Register a simulator's batteries as a utility's devices and connector sites (idempotent)."""

from django.db import transaction

from devices.models import ConnectorSite, Device
from devices.services import connector_site_create, device_register
from devices.simulator.modbus_sim import BatterySimulator

DEMO_PORT = 15020
DEMO_COUNT = 20
VENDOR = "Reservoir Sim"
MODEL = "SunSpec 10 kWh"


def simulated_fleet_register(*, utility, simulator: BatterySimulator) -> list[ConnectorSite]:
    """One Device and one ConnectorSite per simulated battery; existing ones are kept."""
    sites = []
    with transaction.atomic():
        for battery, (host, port, unit_id) in zip(
            simulator.batteries, simulator.endpoints, strict=True
        ):
            params = battery.model.params
            device = Device.objects.for_utility(utility).filter(
                vendor_name=VENDOR, serial=battery.serial
            ).first() or device_register(
                utility=utility,
                vendor_name=VENDOR,
                model_name=MODEL,
                serial=battery.serial,
                max_charge_w=int(params.max_charge_w),
                max_discharge_w=int(params.max_discharge_w),
                capacity_wh=int(params.capacity_wh),
                reserve_pct=params.reserve_pct,
            )
            site = ConnectorSite.objects.for_utility(utility).filter(
                host=host, port=port, unit_id=unit_id
            ).first() or connector_site_create(
                utility=utility,
                name=f"Sim {battery.serial}",
                host=host,
                port=port,
                unit_id=unit_id,
                device=None if hasattr(device, "connector_site") else device,
            )
            sites.append(site)
    return sites


def demo_fleet_seed(*, utility, count: int = DEMO_COUNT, port: int = DEMO_PORT):
    """The sites and devices for the simulator that ``make run`` starts (see runstack)."""
    return simulated_fleet_register(utility=utility, simulator=BatterySimulator(count, port=port))
