"""DER: the device's DERCapability, DERSettings, DERStatus and DERAvailability.

A PUT stores the domain values through the devices services (and so into the fleet's
state and time series) and keeps the resource as sent, so a GET returns it whole.
"""

import dataclasses

from django.db import transaction

from devices import services as device_services
from devices.choices import DER_ALARMS, OPERATIONAL_MODE_STATUS, bit_names
from protocol import services
from protocol.fsets.base import BadInput, SepView, instant
from protocol.http import not_found
from protocol.managers.der import (
    DER_AVAILABILITY,
    DER_CAPABILITY,
    DER_SETTINGS,
    DER_STATUS,
    der_list,
    der_part_href,
    der_resource,
)
from protocol.managers.edev import reported_content
from protocol.xml.codec import element_names
from protocol.xml.resources.der import DERAvailability, DERCapability, DERSettings, DERStatus
from protocol.xml.resources.units import PowerFactor, Scaled, watts_of

MAX_W = 2**31 - 1  # what devices.Device stores


def _watts(power, name: str) -> int | None:
    if power is None:
        return None
    watts = watts_of(power)
    if abs(watts) > MAX_W:
        raise BadInput(f"{name} is out of range ({watts:g})")
    return round(watts)


def _percent(value, name: str) -> float | None:
    return None if value is None else value / 100


# What each DER PUT hands the devices services in typed arguments; the rest goes to the
# device's der_settings / der_status by 2030.5 name (see _others).
_SETTINGS_TYPED = frozenset(
    "set_max_w set_max_charge_rate_w set_max_discharge_rate_w set_max_wh doe_modes_enabled".split()
)
_STATUS_TYPED = frozenset(
    "reading_time state_of_charge_status stor_connect_status "
    "gen_connect_status operational_mode_status alarm_status".split()
)


def _plain(value):
    """A reported value as the device page shows it: SI numbers, {value, dateTime} for a
    status, text and integers as they are."""
    if isinstance(value, Scaled):
        return value.value * 10.0**value.multiplier
    if isinstance(value, PowerFactor):
        return value.displacement * 10.0**value.multiplier
    if dataclasses.is_dataclass(value):
        return {"value": value.value, "dateTime": value.date_time}
    return value


def _others(body, typed: frozenset[str]) -> dict:
    """The fields of `body` the typed arguments do not carry, by their 2030.5 names."""
    return {
        element: _plain(getattr(body, name))
        for name, element in element_names(type(body)).items()
        if name not in typed and getattr(body, name) is not None
    }


def device_status_of(body: DERStatus) -> device_services.DeviceStatus:
    """A DERStatus in the device's terms (BadInput: an unrepresentable time)."""
    soc = body.state_of_charge_status
    connect = body.stor_connect_status
    gen_connect = body.gen_connect_status
    mode = body.operational_mode_status
    alarms = body.alarm_status
    return device_services.DeviceStatus(
        at=instant(body.reading_time, "readingTime"),
        soc_pct=None if soc is None else soc.value / 100,
        storage_connect_status=None if connect is None else connect.value,
        gen_connect_status=None if gen_connect is None else gen_connect.value,
        # A mode the schema reserves (4-255) says nothing we can name: unknown.
        operating_mode=None if mode is None else OPERATIONAL_MODE_STATUS.get(mode.value, "unknown"),
        alarms=None if alarms is None else bit_names(alarms, DER_ALARMS),
        other=_others(body, _STATUS_TYPED),
    )


class DERListView(SepView):
    def get(self, request, eid):
        end_device = self.end_device(eid)
        paged = self.page(request, [der_resource(end_device)])
        return self.sep(
            der_list(end_device, paged, poll_rate=self.poll_rate_of("der_list", end_device))
        )


class DERView(SepView):
    def get(self, request, eid, did):
        end_device = self.end_device(eid)
        if did != 0:
            return not_found("no such DER")
        return self.sep(der_resource(end_device))


class _DERResourceView(SepView):
    key: str
    cls: type

    def get(self, request, eid, did):
        end_device = self.end_device(eid)
        if did != 0:
            return not_found("no such DER")
        href = der_part_href(end_device, self.key)
        return self.sep(self.reported(end_device, self.key, self.cls, href))

    def put(self, request, eid, did):
        end_device = self.end_device(eid)
        if did != 0:
            return not_found("no such DER")
        body = self.body(request, self.cls)
        device = end_device.device
        if device is None:
            raise BadInput("this EndDevice is not linked to a device")
        with transaction.atomic():
            self.store(device, body)
            services.end_device_report_store(
                end_device=end_device,
                key=self.key,
                content=reported_content(body),
                resource_href=der_part_href(end_device, self.key),
            )
        return self.no_content()


class DERCapabilityView(_DERResourceView):
    key, cls = DER_CAPABILITY, DERCapability

    def store(self, device, body):
        wh = body.rtg_max_wh
        device_services.device_update_ratings(
            device=device,
            rtg_max_w=_watts(body.rtg_max_w, "rtgMaxW"),
            rtg_max_charge_rate_w=_watts(body.rtg_max_charge_rate_w, "rtgMaxChargeRateW"),
            rtg_max_discharge_rate_w=_watts(
                body.rtg_max_discharge_rate_w or body.rtg_max_w, "rtgMaxDischargeRateW"
            ),
            rtg_max_wh=None if wh is None else round(wh.value * 10.0**wh.multiplier),
            doe_modes_supported=body.doe_modes_supported,
        )


class DERSettingsView(_DERResourceView):
    key, cls = DER_SETTINGS, DERSettings

    def store(self, device, body):
        wh = body.set_max_wh
        device_services.device_update_settings(
            device=device,
            set_max_w=_watts(body.set_max_w, "setMaxW"),
            set_max_charge_rate_w=_watts(body.set_max_charge_rate_w, "setMaxChargeRateW"),
            set_max_discharge_rate_w=_watts(
                body.set_max_discharge_rate_w or body.set_max_w, "setMaxDischargeRateW"
            ),
            set_max_wh=None if wh is None else round(wh.value * 10.0**wh.multiplier),
            doe_modes_enabled=body.doe_modes_enabled,
            other=_others(body, _SETTINGS_TYPED),
        )


class DERStatusView(_DERResourceView):
    key, cls = DER_STATUS, DERStatus

    def store(self, device, body):
        device_services.device_update_status(device=device, status=device_status_of(body))


class DERAvailabilityView(_DERResourceView):
    key, cls = DER_AVAILABILITY, DERAvailability

    def store(self, device, body):
        device_services.device_update_availability(
            device=device,
            at=instant(body.reading_time, "readingTime"),
            stat_w_avail_w=_watts(body.stat_w_avail, "statWAvail"),
            stat_var_avail_var=_watts(body.stat_var_avail, "statVarAvail"),
            availability_duration_s=body.availability_duration,
            max_charge_duration_s=body.max_charge_duration,
            reserve_charge_pct=_percent(body.reserve_charge_percent, "reserveChargePercent"),
            reserve_pct_avail=_percent(body.reserve_percent, "reservePercent"),
        )
