"""Scripted 2030.5 clients for conformance tests: one well-behaved, and faulty variants.

Each `tick()` does what a real client would do at that moment (discover, register,
report, poll, respond, post telemetry) through SepClient, so every request passes the
real views and the run's recorder. A fault switches off or bends exactly one behaviour.
"""

from dataclasses import dataclass, field

from django.utils import timezone

from protocol.xml import parse, serialize
from protocol.xml.resources.common import DateTimeInterval, time_type
from protocol.xml.resources.dcap import DeviceCapability
from protocol.xml.resources.der import (
    ConnectStatus,
    DERAvailability,
    DERCapability,
    DERList,
    DERSettings,
    DERStatus,
    StateOfChargeStatus,
)
from protocol.xml.resources.derp import DERControlList, DERProgram
from protocol.xml.resources.edev import EndDevice
from protocol.xml.resources.mirror import MirrorMeterReading, MirrorUsagePoint, Reading, ReadingType
from protocol.xml.resources.response import DERControlResponse
from protocol.xml.resources.units import WattHour, active_power
from tests.protocol.client import SepClient
from tests.protocol.sep_world import random_lfdi

CANCELLED, SUPERSEDED = 2, 4


@dataclass
class Faults:
    no_responses: bool = False
    ignore_cancel: bool = False
    wrong_sign: bool = False
    telemetry_interval_s: int = 300
    hardcoded_edev: bool = False
    no_time_sync: bool = False


@dataclass(frozen=True)
class Pem:
    """What SepClient needs of a certificate: its PEM (the key stays with the vendor)."""

    cert_pem: bytes


@dataclass
class ScriptedClient:
    cert_pem: str
    faults: Faults = field(default_factory=Faults)

    def __post_init__(self):
        self.http = SepClient(Pem(self.cert_pem.encode()))
        self.lfdi, self.sfdi = random_lfdi()
        self.edev = None
        self.derps: list[DERProgram] = []
        self.mup = None
        self.sent: set[tuple[str, int]] = set()
        self.read_default = False
        self.active_control: str | None = None

    # --- one moment of the client's life ------------------------------------------------

    def tick(self):
        if self.edev is None:
            self._start()
        self._poll()

    def _start(self):
        edev_list = "/edev"
        if not self.faults.hardcoded_edev:
            dcap = parse(self.http.get("/dcap").content, DeviceCapability)
            edev_list = dcap.end_device_list_link.href
        if not self.faults.no_time_sync:
            assert self.http.get("/tm").status_code == 200
        body = serialize(EndDevice(lfdi=self.lfdi, sfdi=self.sfdi, changed_time=0))
        created = self.http.post_sep(edev_list, body)
        assert created.status_code == 201, created.content
        self.edev = parse(self.http.get(created["Location"]).content, EndDevice)
        fsal = parse(self.http.get(self.edev.function_set_assignments_list_link.href).content)
        fsa = fsal.function_set_assignments[0]
        derpl = parse(self.http.get(f"{fsa.der_program_list_link.href}?l=10").content)
        self.derps = list(derpl.der_programs)
        self._report_der()
        self._mirror()

    def _report_der(self):
        der = parse(self.http.get(self.edev.der_list_link.href).content, DERList).ders[0]
        now = time_type(timezone.now())
        bodies = {
            der.der_capability_link.href: DERCapability(
                modes_supported=1,
                rtg_max_charge_rate_w=active_power(5000),
                rtg_max_discharge_rate_w=active_power(5000),
                rtg_max_w=active_power(5000),
                rtg_max_wh=WattHour(multiplier=1, value=1350),
                type=83,
            ),
            der.der_settings_link.href: DERSettings(
                set_grad_w=100,
                set_max_charge_rate_w=active_power(5000),
                set_max_discharge_rate_w=active_power(5000),
                set_max_w=active_power(5000),
                updated_time=now,
            ),
            der.der_status_link.href: DERStatus(
                reading_time=now,
                state_of_charge_status=StateOfChargeStatus(date_time=now, value=8000),
                stor_connect_status=ConnectStatus(date_time=now, value=7),
            ),
            der.der_availability_link.href: DERAvailability(
                reading_time=now, stat_w_avail=active_power(5000), reserve_percent=2000
            ),
        }
        for href, body in bodies.items():
            response = self.http.put_sep(href, serialize(body))
            assert response.status_code == 204, (href, response.content)

    def _mirror(self):
        mup = MirrorUsagePoint(
            mrid=self.lfdi[:32],
            role_flags=0x09,
            service_category_kind=0,
            status=1,
            device_lfdi=self.lfdi,
            mirror_meter_readings=[
                MirrorMeterReading(
                    mrid=self.lfdi[8:40],
                    description="DER W",
                    reading_type=ReadingType(uom=38, power_of_ten_multiplier=0, kind=37),
                )
            ],
        )
        created = self.http.post_sep("/mup", serialize(mup))
        assert created.status_code == 201, created.content
        self.mup = created["Location"]
        # Backfill the last three readings on the client's own telemetry boundaries.
        interval = self.faults.telemetry_interval_s
        last = time_type(timezone.now()) // interval * interval
        for at in (last - 2 * interval, last - interval, last):
            self._post_reading(0, at, interval)

    def _post_reading(self, watts: float, at: int, duration: int = 0):
        mmr = MirrorMeterReading(
            mrid=self.lfdi[8:40],
            reading=Reading(
                value=int(watts), time_period=DateTimeInterval(duration=duration, start=at)
            ),
        )
        response = self.http.post_sep(self.mup, serialize(mmr))
        assert response.status_code == 201, response.content

    def _respond(self, mrid: str, status: int):
        if self.faults.no_responses or (mrid, status) in self.sent:
            return
        body = DERControlResponse(
            created_date_time=time_type(timezone.now()),
            end_device_lfdi=self.lfdi,
            status=status,
            subject=mrid,
        )
        response = self.http.post_sep("/rsp", serialize(body))
        assert response.status_code == 201, response.content
        self.sent.add((mrid, status))

    def _poll(self):
        now = time_type(timezone.now())
        target, acting_on = None, None
        for derp in self.derps:
            if not self.read_default:
                assert self.http.get(derp.default_der_control_link.href).status_code == 200
                self.read_default = True
            listing = self.http.get(f"{derp.der_control_list_link.href}?l=255")
            for control in parse(listing.content, DERControlList).der_controls:
                status = control.event_status.current_status
                start = control.interval.start
                end = start + control.interval.duration
                self._respond(control.mrid, 1)
                if status == CANCELLED:
                    if not self.faults.ignore_cancel:
                        self._respond(control.mrid, 6)
                        continue
                elif status == SUPERSEDED:
                    self._respond(control.mrid, 7)
                    continue
                if start <= now < end:
                    self._respond(control.mrid, 2)
                    base = control.der_control_base.op_mod_target_w
                    if base is not None:
                        target = base.value * 10**base.multiplier
                        acting_on = control.mrid
                elif now >= end:
                    self._respond(control.mrid, 3)
        if target is not None and self.faults.wrong_sign:
            target = -target
        if acting_on != self.active_control:
            # Report a change of control at once, not only at the next boundary.
            self.active_control = acting_on
            self._post_reading(target or 0, now)
