"""Metering mirror: MirrorUsagePoints and the MirrorMeterReadings clients post to them.

ReadingType.uom picks the telemetry channel (38 W, 63 var, 29 V, 33 Hz, 72 Wh by flow
direction); powerOfTenMultiplier goes to the ingest as `power_of_ten`. A request's readings
go to devices.telemetry_ingest in one call; if any is refused, nothing is written and the
client gets 400 with the first reason.

Every other valid ReadingType (power factor 65, VA 61, A 5, …) is accepted too: its
readings are kept as the device's other readings (devices.OtherReading, shown on the device
page), labelled by the quantity and the MirrorMeterReading's description.
"""

from typing import cast

from django.db import transaction

from devices.choices import Channel, RejectReason
from devices.services import OtherMeasurement, Reading, other_readings_store
from protocol import selectors, services
from protocol.fsets.base import BadInput, Refused, SepView, instant
from protocol.http import forbidden, not_found
from protocol.managers.mirror import mup_href, mup_list, mup_resource
from protocol.models import MirrorUsagePoint
from protocol.xml.resources.mirror import MirrorMeterReading, MirrorMeterReadingList, ReadingType
from protocol.xml.resources.mirror import MirrorUsagePoint as SepMirrorUsagePoint
from protocol.xml.resources.mirror import Reading as SepReading

UOM_W, UOM_VAR, UOM_V, UOM_HZ, UOM_WH = 38, 63, 29, 33, 72
FLOW_REVERSE = 19
ROLE_PREMISES = 0x02  # RoleFlagsType bit 1: isPremisesAggregationPoint (the site meter)


def channel_for(reading_type: ReadingType, role_flags: int) -> str:
    uom = reading_type.uom
    if uom == UOM_W:
        return Channel.SITE_W if role_flags & ROLE_PREMISES else Channel.W
    if uom == UOM_VAR:
        return Channel.VAR
    if uom == UOM_V:
        return Channel.V
    if uom == UOM_HZ:
        return Channel.HZ
    if uom == UOM_WH:
        if reading_type.flow_direction == FLOW_REVERSE:
            return Channel.WH_EXPORT
        return Channel.WH_IMPORT
    return OTHER


OTHER = ""  # the MirrorMeterReading's channel when no telemetry series models its quantity
# UomType values (IEEE 2030.5) the device page names; any other shows as "uom N".
UOM_NAMES = {5: ("Current", "A"), 61: ("Apparent power", "VA"), 65: ("Power factor", "cos θ")}
UOM_NAMES |= {71: ("Apparent energy", "VAh"), 73: ("Reactive energy", "varh")}


def other_quantity(q) -> tuple[str, str]:
    """(label, unit) of a quantity kept as other readings."""
    name, unit = UOM_NAMES.get(q.uom, (f"uom {q.uom}", ""))
    detail = q.description or q.mrid[:8]
    return f"{name} ({detail})", unit


def quantity(mmr: MirrorMeterReading, role_flags: int) -> services.MirrorQuantity:
    reading_type = mmr.reading_type
    if reading_type is None:  # the views refuse or skip these before they get here
        raise BadInput(f"MirrorMeterReading {mmr.mrid} needs a ReadingType")
    return services.MirrorQuantity(
        mrid=mmr.mrid,
        description=mmr.description or "",
        channel=channel_for(reading_type, role_flags),
        unit="",
        power_of_ten=reading_type.power_of_ten_multiplier or 0,
        uom=cast(int, reading_type.uom),  # channel_for has refused a missing uom
        flow_direction=reading_type.flow_direction,
    )


def readings_of(mmr: MirrorMeterReading, *, device_id: int, q) -> list[Reading]:
    """The domain Readings one MirrorMeterReading carries (single, or in MirrorReadingSets)."""
    found: list[tuple[SepReading, int | None]] = []
    if mmr.reading is not None:
        found.append((mmr.reading, mmr.last_update_time))
    for reading_set in mmr.mirror_reading_sets:
        for reading in reading_set.readings:
            found.append((reading, reading_set.time_period.start))
    out = []
    for reading, fallback in found:
        if reading.value is None:
            raise BadInput(f"a Reading of {mmr.mrid} has no value")
        start = reading.time_period.start if reading.time_period else fallback
        if start is None:
            raise BadInput(f"a Reading of {mmr.mrid} has no time")
        out.append(
            Reading(
                device_id=device_id,
                at=instant(start, "Reading timePeriod"),
                channel=q.channel,
                value=reading.value,
                unit=q.unit,
                power_of_ten=q.power_of_ten,
            )
        )
    return out


class MirrorUsagePointListView(SepView):
    def get(self, request):
        items = (
            selectors.mirror_usage_points_for_client(client=self.client)
            .select_related("end_device")
            .order_by("pk")
        )
        paged = self.page(request, items)
        return self.sep(
            mup_list(paged, poll_rate=self.poll_rate_of("mup_list"), post_rate=self.post_rate)
        )

    def post(self, request):
        body = self.body(request, SepMirrorUsagePoint)
        end_device = (
            selectors.end_devices_for_client(client=self.client)
            .select_related("utility")
            .filter(lfdi=body.device_lfdi)
            .first()
        )
        if end_device is None:  # missing or another client's: the same answer
            return forbidden("deviceLFDI is not an EndDevice of this client")
        mmrs = body.mirror_meter_readings
        declared = [quantity(m, body.role_flags) for m in mmrs if m.reading_type is not None]
        with transaction.atomic():
            mup, known, created = services.mirror_usage_point_post(
                end_device=end_device,
                mrid=body.mrid,
                description=body.description or "",
                role_flags=body.role_flags,
                service_category_kind=body.service_category_kind,
                status=body.status,
                quantities=declared,
            )
            missing = [m.mrid for m in mmrs if m.mrid not in known]
            if missing:  # a new quantity must say what it is; a known one may leave it out
                raise BadInput(f"no ReadingType known for MirrorMeterReading {missing[0]}")
            if not created:
                self.rechannel(known, body.role_flags)
            self.ingest(mup, mmrs, known)
        if created:
            return self.created(mup_href(mup))
        response = self.no_content()
        response["Location"] = mup_href(mup)
        return response

    @staticmethod
    def rechannel(known: dict, role_flags: int) -> None:
        """A re-POSTed mirror's role decides site or device power: move the quantities it
        no longer fits (those it declared again already carry the new channel)."""
        moved = []
        for row in known.values():
            if row.channel == OTHER:
                continue
            reading_type = ReadingType(uom=row.uom, flow_direction=row.flow_direction)
            channel = channel_for(reading_type, role_flags)
            if channel != row.channel:
                row.channel = channel
                moved.append(row)
        services.mirror_quantities_move(moved=moved)

    def ingest(self, mup, mmrs, known):
        readings, others = [], []
        for mmr in mmrs:
            q = known[mmr.mrid]
            found = readings_of(mmr, device_id=mup.end_device.device_id, q=q)
            if q.channel != OTHER:
                readings += found
                continue
            label, unit = other_quantity(q)
            others += [
                OtherMeasurement(
                    device_id=r.device_id,
                    at=r.at,
                    quantity=label,
                    unit=unit,
                    value=r.value * 10.0**r.power_of_ten,
                )
                for r in found
            ]
        if not readings and not others:
            return
        if mup.end_device.device_id is None:
            raise BadInput("this EndDevice is not linked to a device")
        if others:  # a refused one raises ValidationError: 400, and the request writes nothing
            other_readings_store(utility=mup.end_device.utility, readings=others)
        if not readings:
            return
        result = services.mirror_readings_ingest(mup=mup, readings=readings)
        if result.rejected:
            first = result.rejected[0]
            reason = RejectReason(first.reason).label
            raise BadInput(f"{len(result.rejected)} reading(s) refused, e.g. {reason}")


class MirrorUsagePointView(MirrorUsagePointListView):
    def mup(self, mid) -> MirrorUsagePoint:
        mup = (
            selectors.mirror_usage_points_for_client(client=self.client)
            .select_related("end_device__utility")
            .filter(pk=mid)
            .first()
        )
        if mup is None:
            raise Refused(not_found("no such MirrorUsagePoint"))
        return mup

    def get(self, request, mid):
        return self.sep(mup_resource(self.mup(mid), post_rate=self.post_rate))

    def post(self, request, mid):
        # The mirror and its quantities in one query: a post of readings alone needs no more.
        mup, held = selectors.mirror_usage_point_with_quantities(client=self.client, pk=mid)
        if mup is None:
            raise Refused(not_found("no such MirrorUsagePoint"))
        body = self.body(request, (MirrorMeterReading, MirrorMeterReadingList))
        mmrs = body.mirror_meter_readings if isinstance(body, MirrorMeterReadingList) else [body]
        declared = [quantity(m, mup.role_flags) for m in mmrs if m.reading_type is not None]
        with transaction.atomic():
            known = services.mirror_quantities_store(mup=mup, quantities=declared, held=held)
            missing = [m.mrid for m in mmrs if m.mrid not in known]
            if missing:
                raise BadInput(f"no ReadingType known for MirrorMeterReading {missing[0]}")
            self.ingest(mup, mmrs, known)
        return self.created(mup_href(mup))
