"""Run a `Sep2Fleet` in a background thread against a real server, for integration tests."""

import asyncio
import threading

from devices.models import Device
from devices.services import device_register
from devices.simulator.sep2_fleet import (
    FLEET_MODEL,
    FLEET_VENDOR,
    Sep2Fleet,
    fleet_lfdi,
    fleet_serial,
    fleet_sfdi,
)
from programs.services import participant_add
from protocol.models import Client
from protocol.services import end_device_preregister
from tests import factories


class FleetThread:
    """The fleet's own event loop in a thread; `close()` stops it and returns its stats."""

    def __init__(self, fleet: Sep2Fleet):
        self.fleet = fleet
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._main, daemon=True)

    def _main(self):
        async def main():
            self.loop = asyncio.get_running_loop()
            self.stop = asyncio.Event()
            self.ready.set()
            await self.fleet.run(stop=self.stop)

        try:
            asyncio.run(main())
        except BaseException as exc:
            self.error = exc
            self.ready.set()

    def __enter__(self):
        self.thread.start()
        self.ready.wait(10)
        return self.fleet

    def __exit__(self, *exc):
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.stop.set)
            self.thread.join(30)
        if self.error and not exc[0]:
            raise self.error


def fleet_participants(*, program, client: Client, count: int, seed: int = 0) -> list[Device]:
    """Devices with the simulated fleet's LFDIs, each a Participant of `program`, each
    pre-registered for the aggregator `client` as a manager would (the fleet's POST /edev
    then finds its EndDevice: a fleet device is claimed by no other aggregator)."""
    devices = []
    for index in range(count):
        lfdi = fleet_lfdi(seed=seed, index=index)
        device = device_register(
            utility=program.utility,
            vendor_name=FLEET_VENDOR,
            model_name=FLEET_MODEL,
            serial=fleet_serial(seed=seed, index=index),
            max_charge_w=5000,
            max_discharge_w=5000,
            capacity_wh=13500,
            lfdi=lfdi,
            sfdi=fleet_sfdi(lfdi),
            zip_code="97201",
            state="OR",
        )
        participant_add(program=program, device=device)
        end_device_preregister(
            utility=program.utility, lfdi=lfdi, sfdi=device.sfdi, device=device,
            registered_by=client,
        )  # fmt: skip
        devices.append(device)
    return devices


def unconstrained_csip_aus_program(utility, **more):
    """A CSIP-AUS program whose rules stand aside (no window, notice or daily cap, one-minute
    events, one-minute polls), so an end-to-end test can dispatch any mode at once."""
    return factories.program(
        utility,
        profile="csip_aus",
        poll_rate_s=60,
        min_duration_min=1,
        min_notice_min=0,
        max_events_per_day=None,
        window_start=None,
        window_end=None,
        **more,
    )
