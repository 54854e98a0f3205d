"""Reads for the 2030.5 server. Every read runs a fixed number of queries, whatever the fleet."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.x509.oid import NameOID
from django.db.models import (
    Case,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
    Window,
)
from django.db.models.functions import RowNumber

from enrollment.choices import OPEN_STATES
from enrollment.models import Enrollment
from programs.choices import EventStatus
from programs.models import (
    Curve,
    Dispatch,
    DispatchGroup,
    DispatchGroupMember,
    Event,
    OptOut,
    Program,
    SiteEnvelope,
)
from programs.selectors import interval_end
from protocol.identity import issued_by
from protocol.models import (
    Client,
    ClientKind,
    EndDevice,
    MirrorMeterReading,
    MirrorUsagePoint,
    Subscription,
)
from tenancy.generations import Fact
from vendors.models import CertificateAuthority, IssuedCertificate, ProductModel

# Events that never reached a client are not DERControls.
VISIBLE_EVENT_STATUSES = (
    EventStatus.SCHEDULED,
    EventStatus.ACTIVE,
    EventStatus.COMPLETED,
    EventStatus.CANCELLED,
    EventStatus.SUPERSEDED,
)


def client_by_lfdi(*, lfdi: str, certificate: x509.Certificate | None = None) -> Client | None:
    """The client a certificate maps to (one query). This is where the tenant is resolved.

    With the `certificate`, the client also carries `issuer_refusal`: why it may not act in
    its utility for where the certificate came from, or None (see client_issuer_refusal).
    The CAs that carry the certificate's issuer name are only candidates; the signature
    decides (protocol.identity.issued_by), so another utility's look-alike CA with the very
    same name cannot issue certificates that act here.
    """
    clients = Client.objects.select_related("utility", "program").filter(lfdi=lfdi)
    issuer = _issuer_common_name(certificate) if certificate is not None else ""
    if issuer:
        cas = CertificateAuthority.objects.filter(common_name=issuer)
        own = cas.filter(utility=OuterRef("utility")).order_by("pk")
        clients = clients.annotate(
            other_ca=Exists(cas.exclude(utility=OuterRef("utility"))),
            own_ca_pem=Subquery(own.values("certificate_pem")[:1]),
        )
    client = clients.first()
    if client is not None and certificate is not None:
        client.issuer_refusal = _issuer_refusal(client, certificate)
    return client


def _issuer_common_name(certificate: x509.Certificate) -> str:
    names = certificate.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


def _issuer_refusal(client: Client, certificate: x509.Certificate) -> str | None:
    own_pem = getattr(client, "own_ca_pem", None)
    other = bool(getattr(client, "other_ca", False))
    if own_pem and issued_by(certificate, own_pem):
        return None
    if other:
        # Named after a CA of another utility, and not signed by this utility's CA.
        return "client certificate issued by another utility's CA"
    if own_pem:
        return "client certificate names this utility's CA but is not signed by it"
    # No utility's CA by that name: the demo CA or a manufacturer's PKI, which nginx's
    # bundle vouches for.
    return None


def client_issuer_refusal(client: Client) -> str | None:
    """Why the certificate may not act in the client's utility (client_by_lfdi's verdict)."""
    return getattr(client, "issuer_refusal", None)


def device_enrolled_through_client_vendor(*, client: Client, device) -> bool:
    """Whether `device` is enrolled through the vendor organisation whose portal-issued
    certificate `client` is: one of the device's enrollments names a product of that
    organisation. A client the utility registered itself has no organisation. Two queries;
    only registration (POST /edev of a fleet device) asks."""
    organization_id = (
        IssuedCertificate.objects.for_utility(client.utility_id)
        .filter(lfdi=client.lfdi, application__isnull=False)
        .values_list("application__organization_id", flat=True)
        .first()
    )
    if organization_id is None:
        return False
    products = ProductModel.objects.filter(
        organization_id=organization_id,
        vendor_name=OuterRef("vendor_name"),
        model_name=OuterRef("model_name"),
    )
    return (
        Enrollment.objects.for_utility(client.utility_id)
        .filter(device=device, state__in=OPEN_STATES)
        .filter(Exists(products))
        .exists()
    )


def end_devices_for_client(*, client: Client) -> QuerySet[EndDevice]:
    """The EndDevices a client may act for: an aggregator its registrations, a device itself."""
    return EndDevice.objects.for_utility(client.utility).filter(_acts_for(client))


def _acts_for(client: Client, path: str = "") -> Q:
    """Which of its utility's EndDevices a client acts for, as a filter on the EndDevice
    at `path` (a lookup prefix such as "mirror_usage_point__end_device__")."""
    if client.kind == ClientKind.DEVICE:
        return Q(**{f"{path}lfdi": client.lfdi})
    return Q(**{f"{path}registered_by": client})


def end_device_for_client(*, client: Client, pk: int) -> EndDevice | None:
    """One of the client's EndDevices, with its device; the utility and (for an
    aggregator) the registering client are the client's own, loaded with its identity, so
    they are handed over, not joined again: every request of a fleet asks this once, and
    building the five-table join cost a status PUT more than its statements."""
    found = end_devices_for_client(client=client).filter(pk=pk)
    if client.kind == ClientKind.DEVICE:  # registered by itself, or by another client
        found = found.select_related("device", "registered_by__program")
    else:  # an aggregator's EndDevices are the ones it registered
        found = found.select_related("device")
    end_device = next(iter(found.order_by()), None)  # the pk names one row: no ORDER BY
    if end_device is None:
        return None
    end_device.utility = client.utility
    if client.kind != ClientKind.DEVICE:
        end_device.registered_by = client
    device = end_device.device
    # device.utility: a PUT's telemetry ingest names it (no extra query).
    if device is not None and device.utility_id == client.utility_id:
        device.utility = client.utility
    return end_device


def _items(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def group_matches(group: DispatchGroup, device) -> bool:
    """The criteria of programs.selectors.group_devices, applied to one device in memory
    (end_device_groups adds the devices attached to a group by hand)."""
    criteria = group.criteria
    if criteria["states"] and device.state not in criteria["states"]:
        return False
    if criteria["zip_prefixes"] and not any(
        device.zip_code.startswith(p) for p in criteria["zip_prefixes"]
    ):
        return False
    if criteria["feeders"] and device.feeder not in criteria["feeders"]:
        return False
    return not (criteria["vendors"] and device.vendor_name not in criteria["vendors"])


def end_device_groups(*, end_device: EndDevice) -> list[DispatchGroup]:
    """The dispatch groups whose DERPrograms this EndDevice sees, with their programs and
    DefaultControls (one query)."""
    device = end_device.device
    if device is None:
        return []
    groups = (
        DispatchGroup.objects.for_utility(end_device.utility_id)
        .filter(
            program__participants__device=device,
            program__participants__left_at__isnull=True,
        )
        .annotate(
            attached=Exists(
                DispatchGroupMember.objects.filter(group=OuterRef("pk"), device_id=device.pk)
            )
        )
        .select_related("program", "default_control")
        .distinct()
        .order_by("program__primacy", "pk")
    )
    return [g for g in groups if g.attached or group_matches(g, device)]


def end_device_group(*, end_device: EndDevice, group_id: int) -> DispatchGroup | None:
    return next((g for g in end_device_groups(end_device=end_device) if g.pk == group_id), None)


def group_curves(*, group: DispatchGroup):
    """The DERCurves of the group's program, as its DERCurveList orders them: newest
    first (creationTime descending), then by id descending."""
    return (
        Curve.objects.for_utility(group.utility_id)
        .filter(program_id=group.program_id)
        .order_by("-created_at", "-pk")
    )


def group_curve(*, group: DispatchGroup, curve_id: int) -> Curve | None:
    """One of the group's program's curves; None for any other (one query)."""
    return group_curves(group=group).filter(pk=curve_id).first()


@dataclass(frozen=True)
class ControlView:
    """An event as one device sees it: its planned dispatch, whether it opted out, and its
    status at the time of the request (`status`, an EventStatus value)."""

    event: Event
    dispatch: Dispatch
    opted_out: bool
    status: str = ""


# Events that are, or will be, in effect: never pushed out of the list.
LIVE_EVENT_STATUSES = (EventStatus.SCHEDULED, EventStatus.ACTIVE)
LISTED_EVENT_STATUSES = (*LIVE_EVENT_STATUSES, EventStatus.CANCELLED, EventStatus.SUPERSEDED)


def clock_status(event: Event, now: datetime) -> str:
    """The event's status at `now`: a scheduled or active event is active from its start,
    whether or not the beat has moved it yet (a listed event has not ended)."""
    if event.status in LIVE_EVENT_STATUSES:
        return EventStatus.ACTIVE if event.start <= now else EventStatus.SCHEDULED
    return event.status


def control_order(events: list[Event], mrid_of: Callable[[Event], str]) -> list[Event]:
    """2030.5 list order for DERControls: interval start ascending, then creationTime
    descending, then mRID (the one the device is shown, `mrid_of`) descending."""
    events = sorted(events, key=mrid_of, reverse=True)
    events.sort(key=lambda e: e.created_at, reverse=True)
    events.sort(key=lambda e: e.start)
    return events


def group_controls(
    *,
    end_device: EndDevice,
    group: DispatchGroup,
    now: datetime,
    mrid_of: Callable[[Event], str],
    active_only: bool = False,
) -> list[ControlView]:
    """The group's DERControls as this device sees them at `now` (two queries).

    The dispatch plan is the single truth: only events with a Dispatch row for this device
    are its controls; an event the plan left it out of is not shown at all.

    The list follows the clock: an event whose interval has ended is gone at once, and one
    whose interval began is active, whatever the beat has done. Every scheduled and active
    event is listed; cancelled and superseded ones that have not ended stay beside them (so a
    client learns of the cancellation, and a late Response still finds its control), the
    ``program.min_stored_events`` most recent of them, and never in place of a live one.
    """
    if end_device.device_id is None:
        return []
    events = (
        Event.objects.for_utility(group.utility_id)
        .filter(
            Exists(Dispatch.objects.filter(event=OuterRef("pk"), device_id=end_device.device_id)),
            group=group,
            status__in=LISTED_EVENT_STATUSES,
        )
        .annotate(end_at=interval_end())
        .filter(end_at__gt=now)
    )
    if active_only:
        events = events.filter(status__in=LIVE_EVENT_STATUSES, start__lte=now)
    else:
        # Rank within live and not-live; a live event's bound is no bound at all.
        live = Q(status__in=LIVE_EVENT_STATUSES)
        events = events.annotate(
            rank=Window(
                RowNumber(),
                partition_by=[Case(When(live, then=Value(1)), default=Value(0))],
                order_by=[F("start").desc(), F("pk").desc()],
            ),
            room=Case(
                When(live, then=Value(2**31 - 1)),
                default=Value(group.program.min_stored_events),
                output_field=IntegerField(),
            ),
        ).filter(rank__lte=F("room"))
    return _control_views(end_device, group, control_order(list(events), mrid_of), now)


def next_clock_change(views: list[ControlView], now: datetime) -> datetime | None:
    """The next instant after `now` at which one of these controls starts or ends, which
    changes the lists they are in with no write at all (None: none is due)."""
    instants = [
        instant for view in views for instant in (view.event.start, view.event.end) if instant > now
    ]
    return min(instants, default=None)


def group_controls_answerable(
    *, end_device: EndDevice, group: DispatchGroup, now: datetime
) -> list[ControlView]:
    """The controls a Response from this device may answer (two queries): the group's
    ``program.min_stored_events`` most recent events planned for it, ended ones included,
    since a device reports "completed" once the interval is over and the list has moved on."""
    if end_device.device_id is None:
        return []
    events = Event.objects.for_utility(group.utility_id).filter(
        Exists(Dispatch.objects.filter(event=OuterRef("pk"), device_id=end_device.device_id)),
        group=group,
        status__in=VISIBLE_EVENT_STATUSES,
    )
    recent = list(events.order_by("-start", "-pk")[: group.program.min_stored_events])
    return _control_views(end_device, group, recent, now)


def _control_views(
    end_device: EndDevice, group: DispatchGroup, listed: list[Event], now: datetime
) -> list[ControlView]:
    """The listed events with this device's Dispatch rows and opt-outs (one query)."""
    ids = [e.pk for e in listed]
    dispatches = {}
    if ids:
        opted_out = OptOut.objects.for_utility(group.utility_id).filter(
            event_id=OuterRef("event_id"), device_id=end_device.device_id
        )
        dispatches = {
            d.event_id: d
            for d in Dispatch.objects.for_utility(group.utility_id)
            .filter(event_id__in=ids, device_id=end_device.device_id)
            .annotate(opted_out=Exists(opted_out))
        }
    return [
        ControlView(e, dispatches[e.pk], dispatches[e.pk].opted_out, clock_status(e, now))
        for e in listed
        if e.pk in dispatches
    ]


def mirror_usage_points_for_client(*, client: Client) -> QuerySet[MirrorUsagePoint]:
    return MirrorUsagePoint.objects.for_utility(client.utility).filter(
        end_device__in=end_devices_for_client(client=client)
    )


def mirror_usage_point_with_quantities(
    *, client: Client, pk: int
) -> tuple[MirrorUsagePoint | None, dict[str, MirrorMeterReading]]:
    """One of the client's mirrors (None: missing or another client's) and its quantities
    by mRID. A post of readings needs both: one query when the mirror has quantities (the
    usual case), a second only for a mirror without any."""
    rows = list(
        MirrorMeterReading.objects.for_utility(client.utility)
        .filter(
            _acts_for(client, "mirror_usage_point__end_device__"),
            mirror_usage_point_id=pk,
            mirror_usage_point__utility=client.utility_id,
            mirror_usage_point__end_device__utility=client.utility_id,
        )
        .select_related("mirror_usage_point__end_device")
        .order_by()
    )
    if not rows:
        mirrors = mirror_usage_points_for_client(client=client).filter(pk=pk)
        return mirrors.select_related("end_device__utility").first(), {}
    mup = rows[0].mirror_usage_point
    mup.end_device.utility = client.utility  # the filter above: the client's utility
    for row in rows:
        row.mirror_usage_point = mup
    return mup, {row.mrid: row for row in rows}


def subscriptions_for(*, end_device: EndDevice) -> QuerySet[Subscription]:
    return Subscription.objects.for_utility(end_device.utility_id).filter(end_device=end_device)


def end_device_for_subscription(*, subscription: Subscription) -> EndDevice:
    """The subscribing EndDevice, with what its notifications are rendered from (one query)."""
    return (
        EndDevice.objects.for_utility(subscription.utility_id)
        .select_related("device", "registered_by__program")
        .get(pk=subscription.end_device_id)
    )


def end_device_client(*, end_device: EndDevice) -> Client | None:
    """The client an EndDevice's subscriptions see through: the one that registered it, else
    the device's own certificate (out-of-band registration; one query then)."""
    if end_device.registered_by is not None:
        return end_device.registered_by
    return (
        Client.objects.for_utility(end_device.utility_id)
        .select_related("program")
        .filter(lfdi=end_device.lfdi, kind=ClientKind.DEVICE, revoked=False)
        .first()
    )


def subscriptions_to(*, utility_id: int, resources: list[str]) -> QuerySet[Subscription]:
    return Subscription.objects.for_utility(utility_id).filter(Q(subscribed_resource__in=resources))


# Bumped by every write to the mirrors, their quantities and the EndDevices they mirror,
# but a poll's or a client PUT's (ProtocolConfig.ready watches the tables): a post of
# readings keeps its mirror and quantities at this token (protocol.fastwrite).
MIRRORS_KEY = "protocol.mirrors"
MIRROR_TABLES: dict[str, frozenset[str]] = {
    "protocol_mirrorusagepoint": frozenset(),
    "protocol_mirrormeterreading": frozenset(),
    "protocol_enddevice": frozenset({"last_poll_at", "reported"}),
}


# Bumped by every write to protocol_subscription (ProtocolConfig.ready watches the table).
SUBSCRIPTIONS_KEY = "protocol.subscriptions"
_subscribed: Fact[bool] = Fact(SUBSCRIPTIONS_KEY)


def utility_has_subscriptions(*, utility_id: int) -> bool:
    """Whether any client of the utility subscribes to anything: no query while no
    subscription was created or deleted since it was last asked (most utilities have none,
    and every client PUT asks)."""
    return _subscribed.get(
        utility_id, lambda: Subscription.objects.for_utility(utility_id).exists()
    )


def site_envelopes_served(
    *, program: Program, connection_point_id: str, now: datetime, active_only: bool = False
) -> list[SiteEnvelope]:
    """The program's envelopes at this connection point that have not ended at `now` (one
    query), cancelled ones included (a client learns of the cancellation); `active_only`:
    those in force. The connection point is matched without its checksum digit."""
    if not connection_point_id:
        return []
    envelopes = (
        SiteEnvelope.objects.for_utility(program.utility_id)
        .filter(program=program, connection_point_id=connection_point_id[:10])
        .annotate(end_at=interval_end())
        .filter(end_at__gt=now)
    )
    if active_only:
        envelopes = envelopes.filter(start__lte=now, cancelled_at__isnull=True)
    return list(envelopes)
