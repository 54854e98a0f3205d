"""A fleet of simulated IEEE 2030.5 (CSIP) battery clients on one asyncio loop.

Each simulated device discovers the server from /dcap, syncs time, registers in-band as
an EndDevice, describes itself (DeviceInformation, DER capability/settings/status/
availability), mirrors its meter (battery W, site W) at the telemetry cadence, polls its
DERPrograms for controls, hands them to its state machine (`sep2_device.SimDevice`:
interval, randomization, primacy, supersession, cancellation), drives a `BatteryModel`
with the setpoint and answers with Responses.

Transport (`sep2_client`): a small HTTP/1.1 keep-alive client on asyncio streams.
Aggregator mode shares one pool of connections (one client certificate) across all
devices; device mode opens one connection per device certificate. `forwarded_cert_pem`
talks plain HTTP to a trusted-proxy ASGI server and sends the certificate in the proxy
header instead.

`client_style="independent"` behaves like an independent CSIP client rather than ours: it
sends no DeviceInformation, mirrors the full set of system readings (W, var, V, Hz, Wh in
and out, power factor, VA, A) in one MirrorMeterReadingList per meter, and keys events by
mRID across the whole aggregator (a control whose mRID another device already holds is
taken for the same event and skipped, as such a client does: `stats.mrid_collisions`).

Every device obeys every DERControlBase mode it is sent (`der_modes`), fetching the
DERCurves its curve modes link, and reports what it does in its DERStatus (connect and
operational mode status) and readings. `SimDevice.grid` is its simulated voltage and
frequency.

`time_scale` speeds up the battery physics and the poll/telemetry cadences (a 300 s
cadence becomes 300 / time_scale wall seconds). Control intervals and reading timestamps
stay on the server's clock, because the server refuses readings from the future.

This is a transport-side tool: it may use `protocol.xml`, and the domain never imports it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
import time
from collections.abc import Callable

from devices.simulator.battery import BatteryModel, BatteryParams
from devices.simulator.der_modes import curve_hrefs, var_of
from devices.simulator.sep2_client import (
    FleetStats,
    HttpError,
    HttpPool,
    Sep2Client,
    forwarded_cert_headers,
    lfdi_of_pem,
    tls_context,
)
from devices.simulator.sep2_device import FleetFaults, SimDevice
from protocol.xml import serialize
from protocol.xml.resources.common import DateTimeInterval
from protocol.xml.resources.dcap import DeviceCapability
from protocol.xml.resources.der import (
    ConnectStatus,
    DERAvailability,
    DERCapability,
    DERList,
    DERSettings,
    DERStatus,
    StateOfChargeStatus,
    StatusValue,
)
from protocol.xml.resources.derp import (
    DefaultDERControl,
    DERControlList,
    DERCurve,
    DERProgram,
    DERProgramList,
)
from protocol.xml.resources.edev import (
    ConnectionPoint,
    DeviceInformation,
    EndDevice,
    EndDeviceList,
    Registration,
)
from protocol.xml.resources.mirror import (
    MirrorMeterReading,
    MirrorMeterReadingList,
    MirrorUsagePoint,
    Reading,
    ReadingType,
)
from protocol.xml.resources.response import DERControlResponse
from protocol.xml.resources.time import Time
from protocol.xml.resources.units import WattHour, active_power

DEFAULT_TELEMETRY_S = 300  # CSIP's usual 5-minute post rate when the server names none
DEFAULT_POLL_S = 60
ROLE_MIRROR_DER = 0x09  # isMirror | isDER: the battery's own meter
ROLE_MIRROR_SITE = 0x03  # isMirror | isPremisesAggregationPoint: the site meter
UOM_W = 38
# The system readings an independent CSIP client mirrors: (name, uom, power of ten, flow).
# Flow 1 is forward (delivered to the site), 19 reverse; Wh are cumulative (3), the rest
# instantaneous (12).
UOM_VAR, UOM_V, UOM_HZ, UOM_WH, UOM_PF, UOM_VA, UOM_A = 63, 29, 33, 72, 65, 61, 5
SYSTEM_READINGS = (
    ("w", UOM_W, 0, None),
    ("var", UOM_VAR, 0, None),
    ("v", UOM_V, -1, None),
    ("hz", UOM_HZ, -2, None),
    ("wh_in", UOM_WH, 0, 1),
    ("wh_out", UOM_WH, 0, 19),
    ("pf", UOM_PF, -2, None),
    ("va", UOM_VA, 0, None),
    ("a", UOM_A, -1, None),
)
SITE_READINGS = (("w", UOM_W, 0, None), ("var", UOM_VAR, 0, None))
# DERControlType bits of the modes the simulated battery obeys: charge, discharge, connect,
# energize, fixed PF absorb/inject, fixed var, fixed W, freq-watt, max W, target W,
# volt-var, volt-watt, watt-PF.
MODES_SUPPORTED = sum(1 << bit for bit in (0, 1, 2, 3, 4, 5, 6, 7, 9, 15, 17, 18, 19, 20))
DOE_MODES_SUPPORTED = 0x0F  # CSIP-AUS: export, import, generation and load limits


def fleet_lfdi(*, seed: int, index: int) -> str:
    """The derived LFDI of simulated device `index` (40 upper-case hex digits)."""
    return hashlib.sha256(f"reservoir-sim:{seed}:{index}".encode()).hexdigest()[:40].upper()


def fleet_sfdi(lfdi: str) -> int:
    """The SFDI of an LFDI (leftmost 36 bits, then the check digit)."""
    leading = int(lfdi, 16) >> (160 - 36)
    return leading * 10 + (-sum(int(d) for d in str(leading)) % 10)


def fleet_nmi(*, seed: int, index: int) -> str:
    """The NMI of simulated site `index`: ten digits, one per site."""
    return f"41{seed % 1000:03d}{index:05d}"


def fleet_serial(*, seed: int, index: int) -> str:
    return f"SIM-{seed}-{index:06d}"


FLEET_VENDOR = "Reservoir Sim"
FLEET_MODEL = "SimBattery 13.5"
FLEET_MF_ID = 99_999
NO_FAULTS = FleetFaults()


class Sep2Fleet:
    """N simulated 2030.5 battery clients sharing keep-alive connections."""

    def __init__(
        self,
        *,
        base_url: str,
        devices: int,
        cert_path=None,
        key_path=None,
        ca_path=None,
        forwarded_cert_pem: bytes | None = None,
        mode: str = "aggregator",
        seed: int = 0,
        time_scale: float = 1.0,
        faults: FleetFaults = NO_FAULTS,
        device_certs: list | None = None,
        opt_out: frozenset[int] = frozenset(),
        pool_size: int = 8,
        concurrency: int = 64,
        pins: dict[int, int] | None = None,
        idle_export_w: float | None = None,
        t0_s: float = 12 * 3600.0,
        post_rate_s: int | None = None,
        profile: str = "csip",
        client_style: str = "reservoir",
        source_address: str | None = None,
        battery_params: Callable[[int], dict] | None = None,
        idle_w: Callable[[int], float | None] | None = None,
        nmi: Callable[[int], str] | None = None,
    ):
        """`pins`: device index → the PIN printed on an out-of-band registered device.
        `idle_export_w`: with no control in force, discharge at this W (a customer's
        export-for-credit mode) instead of self-consumption. `t0_s`: the households'
        local time of day at the start. `post_rate_s`: the telemetry period configured
        in the client, used when the server names none. `profile`: "csipaus" adds what
        CSIP-AUS requires (doeModesSupported). `client_style`: "independent" behaves like
        an independent CSIP client (see the module). `source_address`: the local address
        to connect from. `battery_params`: device index → BatteryParams fields of its own
        (ratings that differ per device). `idle_w`: device index → its own `idle_export_w`
        (negative: it charges). `nmi`: device index → its site's NMI, which a CSIP-AUS
        client PUTs as its csipaus:ConnectionPoint (default: one per site from its LFDI)."""
        if client_style not in ("reservoir", "independent"):
            raise ValueError("client_style is 'reservoir' or 'independent'")
        if mode not in ("aggregator", "device"):
            raise ValueError("mode is 'aggregator' or 'device'")
        if mode == "device" and (not device_certs or len(device_certs) < devices):
            raise ValueError("device mode needs one entry in device_certs per device")
        self.base_url = base_url.rstrip("/")
        self.count = devices
        self.mode, self.seed, self.time_scale = mode, seed, time_scale
        self.faults = faults
        self.cert_path, self.key_path, self.ca_path = cert_path, key_path, ca_path
        self.forwarded_cert_pem = forwarded_cert_pem
        self.device_certs = device_certs or []
        self.opt_out = opt_out
        self.pool_size = pool_size
        self.pins = pins or {}
        self.idle_export_w = idle_export_w
        self.t0_s = t0_s
        self.post_rate_s = post_rate_s
        self.profile = profile
        self.client_style = client_style
        self.independent = client_style == "independent"
        self.source_address = source_address
        self.battery_params = battery_params
        self.idle_w = idle_w
        self.nmi = nmi or (lambda index: fleet_nmi(seed=seed, index=index))
        self.event_owner: dict[str, int] = {}  # mRID → the device that holds that event
        self.customer_opt_outs: set[tuple[int, str]] = set()
        self.stats = FleetStats(devices=devices)
        self.devices: list[SimDevice] = []
        self.clock_offset_s = 0.0  # server time - our time, from /tm
        self.poll_rate_s = DEFAULT_POLL_S
        self.dcap: DeviceCapability | None = None
        self._gate = asyncio.Semaphore(concurrency) if concurrency else None
        self._pools: list[HttpPool] = []
        self._holders: dict[str, set[int]] = {}

    # --- plumbing -----------------------------------------------------------------------

    def _pool(self, *, cert=None, key=None, forwarded: bytes | None, size: int) -> HttpPool:
        headers = forwarded_cert_headers(forwarded)
        context = None
        if self.base_url.startswith("https"):
            context = tls_context(ca_path=self.ca_path, cert=cert, key=key)
        pool = HttpPool(
            self.base_url,
            size=size,
            ssl_context=context,
            extra_headers=headers,
            stats=self.stats,
            source_address=self.source_address,
        )
        self._pools.append(pool)
        return pool

    def customer_opt_out(self, index: int, mrid: str) -> None:
        """Device `index`'s customer opts out of the event `mrid` (in the vendor's app)."""
        self.customer_opt_outs.add((index, mrid.upper()))

    def now(self) -> float:
        """Server time (epoch seconds)."""
        return time.time() + self.clock_offset_s

    # --- lifecycle ----------------------------------------------------------------------

    def _build(self) -> None:
        shared = None
        if self.mode == "aggregator":
            shared = self._pool(
                cert=self.cert_path,
                key=self.key_path,
                forwarded=self.forwarded_cert_pem,
                size=self.pool_size,
            )
        for i in range(self.count):
            if shared is None:
                entry = self.device_certs[i]
                # An entry is (cert_path, key_path) for TLS or PEM bytes for the proxy header.
                if isinstance(entry, bytes):
                    pool = self._pool(forwarded=entry, size=1)
                    lfdi = lfdi_of_pem(entry)
                else:
                    cert, key = entry
                    pool = self._pool(cert=cert, key=key, forwarded=None, size=1)
                    lfdi = lfdi_of_pem(open(cert, "rb").read())
            else:
                pool, lfdi = shared, fleet_lfdi(seed=self.seed, index=i)
            rng = random.Random(f"{self.seed}:{i}")  # noqa: S311 (simulation, not security)
            own = self.battery_params(i) if self.battery_params else {}
            params = {
                "seed": self.seed * 100_003 + i,
                "initial_soc_pct": 60.0 + rng.random() * 30,
                **own,
            }
            battery = BatteryModel(BatteryParams(**params), t0_s=self.t0_s)
            client = Sep2Client(pool, gate=self._gate, stats=self.stats)
            self.devices.append(
                SimDevice(
                    i,
                    lfdi,
                    fleet_sfdi(lfdi),
                    client,
                    battery,
                    rng,
                    faults=self.faults,
                    opts_out=i in self.opt_out,
                    customer_opt_outs=self.customer_opt_outs,
                    idle_export_w=self.idle_w(i) if self.idle_w else self.idle_export_w,
                )
            )

    async def run(
        self, *, duration_s: float | None = None, stop: asyncio.Event | None = None
    ) -> FleetStats:
        """Run until `duration_s` wall seconds pass or `stop` is set; return the stats."""
        stop = stop or asyncio.Event()
        started = time.monotonic()
        if not self.devices:
            self._build()
        tasks: list[asyncio.Task] = []
        try:
            first = self.devices[0] if self.devices else None
            if first is not None:
                for attempt in range(60):  # the server may still be starting
                    try:
                        await self._discover(first)
                        break
                    except OSError:
                        if attempt == 59 or stop.is_set():
                            raise
                        await asyncio.sleep(1.0)
            await asyncio.gather(*(self._register(d) for d in self.devices))
            tasks = [
                asyncio.create_task(self._physics_loop(stop)),
                *(asyncio.create_task(self._device_loop(d, stop)) for d in self.devices),
            ]
            if duration_s is not None:
                remaining = duration_s - (time.monotonic() - started)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=max(0.0, remaining))
            else:
                await stop.wait()
        finally:
            stop.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for pool in self._pools:
                pool.close()
            self.stats.elapsed_s = time.monotonic() - started
        return self.stats

    async def _discover(self, dev: SimDevice) -> None:
        if self.faults.hardcoded_edev:
            return
        self.dcap = await dev.client.get("/dcap", DeviceCapability)
        self.poll_rate_s = self.dcap.poll_rate or DEFAULT_POLL_S
        if self.dcap.time_link and not self.faults.no_time_sync:
            before = time.time()
            tm = await dev.client.get(self.dcap.time_link.href, Time)
            self.clock_offset_s = tm.current_time - (before + time.time()) / 2

    def _edev_list_href(self) -> str:
        if self.faults.hardcoded_edev or self.dcap is None or not self.dcap.end_device_list_link:
            return "/edev"
        return self.dcap.end_device_list_link.href

    def _mup_list_href(self) -> str:
        link = self.dcap.mirror_usage_point_list_link if self.dcap else None
        return link.href if link else "/mup"

    async def _register(self, dev: SimDevice, attempts: int = 5) -> None:
        # Every step is idempotent (409 means "already there"), so a busy server's
        # refusal halfway is retried from the top, like a real client on its next boot.
        for attempt in range(attempts):
            try:
                await self._register_one(dev)
                self.stats.registered += 1
                dev.error = ""
                return
            except (HttpError, OSError, ValueError) as exc:
                self.stats.errors += 1
                dev.edev = None
                dev.error = str(exc)
                if "PIN" in dev.error or attempt + 1 == attempts:
                    return
                await asyncio.sleep(1.0 + attempt)

    async def _register_one(self, dev: SimDevice) -> None:
        now = int(self.now())
        status, headers, content = await dev.client.call(
            "POST",
            self._edev_list_href(),
            serialize(EndDevice(lfdi=dev.lfdi, sfdi=dev.sfdi, changed_time=now)),
        )
        if status == 201:
            href = headers["location"]
        elif status == 409:
            href = await self._find_edev(dev)
        else:
            raise HttpError(f"POST /edev: {status} {content[:200]!r}")
        dev.edev = await dev.client.get(href, EndDevice)
        dev.post_rate_s = dev.edev.post_rate
        pin = self.pins.get(dev.index)
        if pin is not None and not self.faults.skip_pin_check:
            # Out of band: trust the server only if it knows the PIN printed on the device.
            link = dev.edev.registration_link
            registration = await dev.client.get(link.href, Registration) if link else None
            if registration is None or registration.pin != pin:
                raise HttpError("the server's Registration PIN does not match the device's")
        # An independent client sends no DeviceInformation.
        await dev.client.put_linked(
            None if self.independent else dev.edev.device_information_link,
            DeviceInformation(
                lfdi=dev.lfdi,
                mf_date=now,
                mf_hw_ver="1.0",
                mf_id=FLEET_MF_ID,
                mf_model=FLEET_MODEL,
                mf_ser_num=fleet_serial(seed=self.seed, index=dev.index),
                primary_power=0,
                secondary_power=0,
                sw_act_time=now,
                sw_ver="1.0.0",
            ),
        )
        if self.profile == "csipaus" and dev.edev.connection_point_link is not None:
            # CSIP-AUS: the client tells the server which site (NMI) it is connected at.
            await dev.client.put_linked(
                dev.edev.connection_point_link,
                ConnectionPoint(connection_point_id=self.nmi(dev.index)),
            )
        if dev.edev.der_list_link:
            ders = await dev.client.get(dev.edev.der_list_link.href, DERList)
            dev.der = ders.ders[0] if ders.ders else None
        if dev.der is not None:
            p = dev.battery.params
            ratings = {}
            if not self.faults.no_storage_ratings:
                ratings = {
                    "rtg_max_charge_rate_w": active_power(p.max_charge_w),
                    "rtg_max_discharge_rate_w": active_power(p.max_discharge_w),
                    "rtg_max_wh": WattHour(multiplier=1, value=int(p.capacity_wh // 10)),
                }
            puts = [
                (
                    dev.der.der_capability_link,
                    DERCapability(
                        modes_supported=MODES_SUPPORTED,
                        rtg_max_w=active_power(p.max_discharge_w),
                        type=83,
                        doe_modes_supported=(
                            DOE_MODES_SUPPORTED if self.profile == "csipaus" else None
                        ),
                        **ratings,
                    ),
                ),
                (
                    dev.der.der_settings_link,
                    DERSettings(
                        set_grad_w=100,
                        set_max_w=active_power(p.max_discharge_w),
                        set_max_charge_rate_w=active_power(p.max_charge_w),
                        set_max_discharge_rate_w=active_power(p.max_discharge_w),
                        updated_time=now,
                    ),
                ),
            ]
            for link, body in puts:
                await dev.client.put_linked(link, body)
            await self._put_status(dev)
        for role in (ROLE_MIRROR_DER, ROLE_MIRROR_SITE):
            mup = MirrorUsagePoint(
                mrid=_mrid(dev.lfdi, f"mup{role}"),
                role_flags=role,
                service_category_kind=0,
                status=1,
                device_lfdi=dev.lfdi,
                mirror_meter_readings=[
                    MirrorMeterReading(
                        mrid=_mmr_mrid(dev.lfdi, role, name),
                        description=name,
                        reading_type=ReadingType(
                            uom=uom,
                            power_of_ten_multiplier=power or None,
                            flow_direction=flow,
                            accumulation_behaviour=(3 if uom == UOM_WH else 12)
                            if self.independent
                            else None,
                        ),
                    )
                    for name, uom, power, flow in self._quantities(role)
                ],
            )
            # 201 when new, 204 when re-POSTed after a retry: the Location either way.
            _, headers = await dev.client.send("POST", self._mup_list_href(), mup)
            dev.mup_hrefs[role] = headers["location"]

    def _quantities(self, role: int) -> tuple[tuple[str, int, int, int | None], ...]:
        # Our client mirrors only W, except under CSIP-AUS, whose site and reactive power
        # readings show the site limits and the var modes obeyed.
        if not self.independent and self.profile != "csipaus":
            return (("w", UOM_W, 0, None),)
        return SYSTEM_READINGS if role == ROLE_MIRROR_DER else SITE_READINGS

    async def _find_edev(self, dev: SimDevice) -> str:
        listing = await dev.client.get(f"{self._edev_list_href()}?l=1000", EndDeviceList)
        for edev in listing.end_devices:
            if edev.lfdi == dev.lfdi:
                return edev.href
        raise HttpError("registered EndDevice not in the list")

    async def _put_status(self, dev: SimDevice) -> None:
        if dev.der is None:
            return
        now = int(self.now())
        b = dev.battery
        p = b.params
        soc = round(b.soc_pct * 100)
        command = dev.command
        connect = ConnectStatus(date_time=now, value=command.connect_status)
        await dev.client.put_linked(
            dev.der.der_status_link,
            DERStatus(
                reading_time=now,
                gen_connect_status=connect,
                operational_mode_status=StatusValue(date_time=now, value=command.op_mode_status),
                state_of_charge_status=StateOfChargeStatus(date_time=now, value=soc),
                stor_connect_status=connect,
            ),
        )
        usable = max(0.0, b.stored_wh - p.capacity_wh * p.discharge_floor_pct / 100)
        await dev.client.put_linked(
            dev.der.der_availability_link,
            DERAvailability(
                reading_time=now,
                availability_duration=int(usable / max(p.max_discharge_w, 1) * 3600),
                stat_w_avail=active_power(p.max_discharge_w if usable > 0 else 0),
            ),
        )

    # --- loops --------------------------------------------------------------------------

    async def _physics_loop(self, stop: asyncio.Event) -> None:
        """Step every battery together, once a wall second (batched work, one task)."""
        last = time.monotonic()
        while not stop.is_set():
            await asyncio.sleep(1.0)
            now_m = time.monotonic()
            dt = (now_m - last) * self.time_scale
            last = now_m
            t = self.now()
            for dev in self.devices:
                if dev.edev is not None:
                    dev.apply(t)
                    target = dev.target_w(dt_s=dt)
                    dev.battery.step(dt, target, ramp_w_per_s=dev.ramp_w_per_s)

    def _telemetry_s(self, dev: SimDevice) -> float:
        interval = (
            self.faults.telemetry_interval_s
            or dev.post_rate_s
            or self.post_rate_s
            or DEFAULT_TELEMETRY_S
        )
        return max(0.2, interval / self.time_scale)

    async def _device_loop(self, dev: SimDevice, stop: asyncio.Event) -> None:
        poll_s = max(0.2, self.poll_rate_s / self.time_scale)
        while dev.edev is None and "PIN" in dev.error and not stop.is_set():
            # A wrong PIN may be the utility's typo: check again each poll period, and
            # never use the EndDevice meanwhile.
            try:
                await asyncio.wait_for(stop.wait(), poll_s)
            except TimeoutError:
                await self._register(dev, attempts=1)
        if dev.edev is None:
            return
        period = self._telemetry_s(dev)
        # Spread first polls over the poll period so N devices do not poll in lockstep.
        next_poll = time.monotonic() + (dev.index % 97) / 97 * min(poll_s, 2.0)
        # Boundaries on the server's clock, so readings start on its cadence boundaries.
        next_reading = (int(self.now() / period) + 1) * period
        while not stop.is_set():
            now_m = time.monotonic()
            if self.faults.give_up_after_errors and dev.client.failures >= 3:
                dev.gave_up = True
                return
            if now_m < dev.client.retry_at and not self.faults.give_up_after_errors:
                await asyncio.sleep(min(1.0, dev.client.retry_at - now_m))
                continue
            try:
                if now_m >= next_poll:
                    next_poll = now_m + poll_s
                    await self._poll(dev)
                if self.now() >= next_reading:
                    boundary = next_reading
                    next_reading += period
                    while next_reading <= self.now():  # fell behind: skip, do not burst
                        next_reading += period
                    await self._post_readings(dev, boundary - period, period)
                await self._respond_due(dev)
            except (HttpError, OSError, ValueError, asyncio.IncompleteReadError) as exc:
                self.stats.errors += 1
                if isinstance(exc, OSError | asyncio.IncompleteReadError):
                    dev.client.failures += 1  # no answer at all
            wake = min(next_poll - time.monotonic(), next_reading - self.now(), 1.0)
            await asyncio.sleep(max(0.05, wake))

    async def _post_readings(self, dev: SimDevice, start: float, period: float) -> None:
        start_s = round(start)  # `start` is already server time
        duration = max(1, round(period))
        b = dev.battery
        # The meter reads what the last physics step produced, so a limit the battery
        # applied over that step is what the reading shows.
        site_w = b.site_w if b.site_w is not None else b.load_w(b.t_s) - b.solar_w(b.t_s)
        values = self.readings_of(dev, site_w)
        interval = DateTimeInterval(duration=duration, start=start_s)
        for role in (ROLE_MIRROR_DER, ROLE_MIRROR_SITE):
            href = dev.mup_hrefs.get(role)
            if href is None:
                continue
            mmrs = [
                MirrorMeterReading(
                    mrid=_mmr_mrid(dev.lfdi, role, name),
                    reading=Reading(
                        value=round(values[role, name] / 10.0**power), time_period=interval
                    ),
                )
                for name, _, power, _ in self._quantities(role)
            ]
            if self.independent:  # one list per meter
                body = MirrorMeterReadingList(mirror_meter_readings=mmrs, all=len(mmrs))
                body.results = len(mmrs)
                await dev.client.send("POST", href, body)
            else:
                for mmr in mmrs:
                    await dev.client.send("POST", href, mmr)
            self.stats.readings_posted += len(mmrs)
        await self._put_status(dev)

    def readings_of(self, dev: SimDevice, site_w: float) -> dict[tuple[int, str], float]:
        """The value of every mirrored quantity, (role, name) → value in its unit."""
        b, command, grid = dev.battery, dev.command, dev.grid
        w = b.battery_w
        var = var_of(w, command.power_factor) if command.power_factor else command.var
        if not command.connected:
            var = 0.0
        va = (w**2 + var**2) ** 0.5
        volts = grid.nominal_v * grid.voltage_pct / 100
        return {
            (ROLE_MIRROR_DER, "w"): w,
            (ROLE_MIRROR_DER, "var"): var,
            (ROLE_MIRROR_DER, "v"): volts,
            (ROLE_MIRROR_DER, "hz"): grid.frequency_hz,
            (ROLE_MIRROR_DER, "wh_in"): b.total_in_wh,
            (ROLE_MIRROR_DER, "wh_out"): b.total_out_wh,
            (ROLE_MIRROR_DER, "pf"): abs(w) / va if va else 1.0,
            (ROLE_MIRROR_DER, "va"): va,
            (ROLE_MIRROR_DER, "a"): va / volts if volts else 0.0,
            (ROLE_MIRROR_SITE, "w"): site_w,
            (ROLE_MIRROR_SITE, "var"): var,
        }

    async def _curves(self, dev: SimDevice, base) -> dict[str, DERCurve]:
        """The DERCurves `base`'s curve modes link, fetched by href."""
        return {href: await dev.client.get(href, DERCurve) for href in curve_hrefs(base)}

    def _claims(self, dev: SimDevice, mrid: str) -> bool:
        """Whether `dev` may follow the control `mrid`: always, except for an independent
        client, which keys events by mRID across all its devices (the first holds it)."""
        if not self.independent:
            return True
        owner = self.event_owner.setdefault(mrid, dev.index)
        if owner != dev.index:
            self.stats.mrid_collisions += 1
            return False
        return True

    async def _poll(self, dev: SimDevice) -> None:
        self.stats.polls += 1
        edev = dev.edev
        programs: list[DERProgram] = []
        if edev.function_set_assignments_list_link:
            fsas = await dev.client.get(_listed(edev.function_set_assignments_list_link.href))
            for fsa in fsas.function_set_assignments:
                if fsa.der_program_list_link:
                    derps = await dev.client.get(
                        _listed(fsa.der_program_list_link.href), DERProgramList
                    )
                    programs.extend(derps.der_programs)
        seen: set[str] = set()
        for program in programs:
            if program.der_control_list_link:
                listing = await dev.client.get(
                    _listed(program.der_control_list_link.href), DERControlList
                )
                for control in listing.der_controls:
                    seen.add(control.mrid)
                    if self._claims(dev, control.mrid):
                        curves = await self._curves(dev, control.der_control_base)
                        dev.learn(control, program.primacy, curves)
            if program.active_der_control_list_link:
                await dev.client.get(_listed(program.active_der_control_list_link.href))
            if program.default_der_control_link:
                default = await dev.client.get(
                    program.default_der_control_link.href, DefaultDERControl
                )
                curves = await self._curves(dev, default.der_control_base)
                dev.learn_default(default, curves)
        now_m = time.monotonic()
        for mrid in seen:
            if mrid not in self.stats.first_seen:
                self.stats.first_seen[mrid] = now_m
                self.stats.controls_seen.add(mrid)
            holders = self._holders.setdefault(mrid, set())
            holders.add(dev.index)
            if len(holders) == self.stats.registered and mrid not in self.stats.all_seen:
                self.stats.all_seen[mrid] = now_m

    async def _respond_due(self, dev: SimDevice) -> None:
        while dev.outbox:
            reply_to, mrid, status = dev.outbox.pop(0)
            body = DERControlResponse(
                created_date_time=int(self.now()),
                end_device_lfdi=dev.lfdi,
                status=status,
                subject=mrid,
            )
            await dev.client.send("POST", reply_to, body, expect=(201, 204))
            self.stats.responses[status] = self.stats.responses.get(status, 0) + 1


def battery_action(dev: SimDevice) -> str:
    """What `dev`'s battery is doing, in words: its W, the modes that shaped it, its SoC."""
    b, command = dev.battery, dev.command
    if not command.connected:
        doing = "disconnected, 0 W"
    elif abs(b.battery_w) < 0.5:
        doing = "idle, 0 W"
    else:
        doing = f"{'discharging' if b.battery_w > 0 else 'charging'} {abs(b.battery_w):.0f} W"
    held = f" ({', '.join(command.held)})" if command.held else ""
    return f"{doing}{held}, SoC {b.soc_pct:.1f} %"


def dispatch_table(fleet: Sep2Fleet) -> str:
    """device | DERControl mRID | setpoint W | what the battery did: one row per device, for
    the control in force (else the newest it knows). A Markdown table."""
    rows = ["| device | DERControl mRID | setpoint W | what the battery did |", "|---|---|---|---|"]
    for dev in fleet.devices:
        control = dev.controls.get(dev.active) if dev.active else None
        if control is None and dev.controls:
            control = max(dev.controls.values(), key=lambda c: c.creation_time)
        mrid = control.mrid if control else "-"
        setpoint = "-"
        if control is not None and control.setpoint_w is not None:
            setpoint = f"{control.setpoint_w:.0f}"
        rows.append(
            f"| {dev.index} ({dev.lfdi[:8]}…) | {mrid} | {setpoint} | {battery_action(dev)} |"
        )
    return "\n".join(rows)


def _listed(href: str, limit: int = 255) -> str:
    """A list's href asking for every entry (2030.5 lists default to one)."""
    return f"{href}{'&' if '?' in href else '?'}s=0&l={limit}"


def _mmr_mrid(lfdi: str, role: int, name: str) -> str:
    # The battery's W keeps the mRID it has always had (a server keys readings by it).
    return _mrid(lfdi, f"mmr{role}" if name == "w" else f"mmr{role}:{name}")


def _mrid(lfdi: str, what: str) -> str:
    return hashlib.sha256(f"{lfdi}:{what}".encode()).hexdigest()[:32].upper()
