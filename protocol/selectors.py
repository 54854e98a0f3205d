"""Reads for the 2030.5 server. Every read runs a fixed number of queries, whatever the fleet."""

from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q, QuerySet

from programs.choices import EventStatus
from programs.models import Dispatch, DispatchGroup, DispatchGroupMember, Event, OptOut
from protocol.models import Client, ClientKind, EndDevice, MirrorUsagePoint, Subscription
from vendors.models import CertificateAuthority

# Events that never reached a client are not DERControls.
VISIBLE_EVENT_STATUSES = (
    EventStatus.SCHEDULED,
    EventStatus.ACTIVE,
    EventStatus.COMPLETED,
    EventStatus.CANCELLED,
    EventStatus.SUPERSEDED,
)


def client_by_lfdi(*, lfdi: str, issuer: str = "") -> Client | None:
    """The client a certificate maps to (one query). This is where the tenant is resolved.

    With `issuer` (the certificate's issuer common name) the client also carries
    `foreign_ca`: whether that names a CA of another utility and none of the client's own,
    i.e. another utility's CA issued the certificate (see client_issuer_refusal).
    """
    clients = Client.objects.select_related("utility", "program").filter(lfdi=lfdi)
    if issuer:
        cas = CertificateAuthority.objects.filter(common_name=issuer)
        clients = clients.annotate(
            other_ca=Exists(cas.exclude(utility=OuterRef("utility"))),
            own_ca=Exists(cas.filter(utility=OuterRef("utility"))),
        )
    return clients.first()


def client_issuer_is_foreign(client: Client) -> bool:
    """Whether the certificate came from another utility's CA (client_by_lfdi's `issuer`)."""
    return bool(getattr(client, "other_ca", False)) and not getattr(client, "own_ca", False)


def end_devices_for_client(*, client: Client) -> QuerySet[EndDevice]:
    """The EndDevices a client may act for: an aggregator its registrations, a device itself."""
    devices = EndDevice.objects.for_utility(client.utility)
    if client.kind == ClientKind.DEVICE:
        return devices.filter(lfdi=client.lfdi)
    return devices.filter(registered_by=client)


def end_device_for_client(*, client: Client, pk: int) -> EndDevice | None:
    return (
        end_devices_for_client(client=client)
        .select_related("device", "registered_by__program")
        .filter(pk=pk)
        .first()
    )


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
    """The dispatch groups whose DERPrograms this EndDevice sees (one query)."""
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
        .select_related("program")
        .distinct()
        .order_by("program__primacy", "pk")
    )
    return [g for g in groups if g.attached or group_matches(g, device)]


def end_device_group(*, end_device: EndDevice, group_id: int) -> DispatchGroup | None:
    return next((g for g in end_device_groups(end_device=end_device) if g.pk == group_id), None)


@dataclass(frozen=True)
class ControlView:
    """An event as one device sees it: its planned dispatch and whether it opted out."""

    event: Event
    dispatch: Dispatch
    opted_out: bool


def group_controls(
    *, end_device: EndDevice, group: DispatchGroup, active_only: bool = False
) -> list[ControlView]:
    """The group's most recent events as this device's DERControls (three queries).

    The dispatch plan is the single truth: only events with a Dispatch row for this
    device are its controls; an event the plan left it out of is not shown at all.
    At least ``program.min_stored_events`` are kept, cancelled and superseded ones
    included, so that a late Response still finds its control.
    """
    if end_device.device_id is None:
        return []
    events = Event.objects.for_utility(group.utility_id).filter(
        Exists(Dispatch.objects.filter(event=OuterRef("pk"), device_id=end_device.device_id)),
        group=group,
        status__in=VISIBLE_EVENT_STATUSES,
    )
    if active_only:
        events = events.filter(status=EventStatus.ACTIVE)
    events = list(events.order_by("-start", "-pk")[: group.program.min_stored_events])
    # The list is ordered by primacy then start, soonest first (2030.5 list ordering).
    events.sort(key=lambda e: (e.start, e.pk))
    ids = [e.pk for e in events]
    dispatches, opted = {}, set()
    if ids:
        dispatches = {
            d.event_id: d
            for d in Dispatch.objects.for_utility(group.utility_id).filter(
                event_id__in=ids, device_id=end_device.device_id
            )
        }
        opted = set(
            OptOut.objects.for_utility(group.utility_id)
            .filter(event_id__in=ids, device_id=end_device.device_id)
            .values_list("event_id", flat=True)
        )
    return [ControlView(e, dispatches[e.pk], e.pk in opted) for e in events if e.pk in dispatches]


def mirror_usage_points_for_client(*, client: Client) -> QuerySet[MirrorUsagePoint]:
    return MirrorUsagePoint.objects.for_utility(client.utility).filter(
        end_device__in=end_devices_for_client(client=client)
    )


def subscriptions_for(*, end_device: EndDevice) -> QuerySet[Subscription]:
    return Subscription.objects.for_utility(end_device.utility_id).filter(end_device=end_device)


def end_device_for_subscription(*, subscription: Subscription) -> EndDevice:
    """The subscribing EndDevice, with what its notifications are rendered from (one query)."""
    return (
        EndDevice.objects.for_utility(subscription.utility_id)
        .select_related("device", "registered_by__program")
        .get(pk=subscription.end_device_id)
    )


def subscriptions_to(*, utility_id: int, resources: list[str]) -> QuerySet[Subscription]:
    return Subscription.objects.for_utility(utility_id).filter(Q(subscribed_resource__in=resources))
