"""Writes for programs and the dispatch event lifecycle.

Every transition is idempotent (beat may fire twice; a worker may die halfway), runs under
a row lock, and appends to the event's audit trail. Transports hear about changes through
``programs.signals.event_changed`` after commit.
"""

import json
from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django_celery_beat.models import ClockedSchedule, PeriodicTask

from devices.models import Device
from devices.nmi import NMI_LENGTH, validate_nmi
from devices.selectors import device_by_identity
from programs.choices import LIVE_STATUSES, EventKind, EventStatus, ResponseStatus
from programs.controls import (
    CONTROL_FIELDS,
    CURVE_FIELDS,
    DEFAULT_ONLY_FIELDS,
    PLANNED_KINDS,
    controls_refusals,
    event_words,
)
from programs.models import (
    SITE_ENVELOPE_LIMITS,
    Curve,
    DefaultControl,
    Dispatch,
    DispatchGroup,
    DispatchGroupMember,
    Event,
    EventTransition,
    OptOut,
    Participant,
    Program,
    ProgramChange,
    SiteEnvelope,
)
from programs.rules import RuleViolation, event_rule_check, opt_out_refusal
from programs.selectors import (
    event_plan,
    event_plan_joiners,
    events_plans_may_take,
    group_devices,
    interval_end,
)
from programs.signals import (
    default_control_changed,
    dispatch_responded,
    event_changed,
    site_envelopes_changed,
)
from tenancy.choices import Role
from tenancy.models import Membership

ACTIVATE_TASK = "programs.event_activate"
COMPLETE_TASK = "programs.event_complete"


class EventRuleError(ValidationError):
    """The event breaks program rules; ``violations`` says which and why."""

    def __init__(self, violations: list[RuleViolation]):
        self.violations = violations
        super().__init__([v.message for v in violations])


def _snapshot(event: Event) -> dict:
    return {
        "status": event.status,
        "start": event.start.isoformat(),
        "duration_s": event.duration_s,
        "target_w": event.target_w,
        "superseded_by": event.superseded_by_id,
        "modes": _modes_snapshot(event),
    }


def _modes_snapshot(event: Event) -> dict:
    """The modes the event sets, as JSON (a curve by id, a power factor as text)."""
    modes = {}
    for field in CONTROL_FIELDS:
        value = getattr(event, f"{field}_id" if field in CURVE_FIELDS else field)
        if value is not None:
            modes[field] = str(value) if isinstance(value, Decimal) else value
    return modes


def _transition(
    event: Event, *, to: str, actor=None, actor_label: str, reason: str = "", now: datetime
) -> None:
    before = _snapshot(event)
    from_status = before["status"]
    event.status = to
    event.status_changed_at = now
    event.save(update_fields=["status", "status_changed_at", "superseded_by"])
    EventTransition.objects.create(
        utility_id=event.utility_id,
        event=event,
        at=now,
        actor=actor,
        actor_label=actor_label,
        from_status=from_status,
        to_status=to,
        reason=reason,
        before=before,
        after=_snapshot(event),
    )
    utility_id, event_id = event.utility_id, event.pk
    transaction.on_commit(
        lambda: event_changed.send(
            sender=Event, event_id=event_id, utility_id=utility_id, status=to
        )
    )


def _actor_label(actor) -> str:
    return actor.get_username() if actor is not None else "system"


def rule_values(instance, fields) -> dict:
    """`fields` of `instance` as JSON values, for a ProgramChange (money, times as text)."""
    values = {}
    for name in fields:
        field = instance._meta.get_field(name)
        value = getattr(instance, field.attname)
        if isinstance(value, Decimal):  # as stored: 0.25 and 0.250 are one rate
            value = value.quantize(Decimal(1).scaleb(-field.decimal_places))
        values[name] = value if value is None or isinstance(value, bool | int | str) else str(value)
    return values


def program_change_record(
    *, program: Program, part: str, before: dict, after: dict, actor, now: datetime | None = None
) -> ProgramChange | None:
    """Keep who changed which of `program`'s rules (`part`, a ProgramPart) from what to
    what: only the values that changed; nothing when none did."""
    changed = [k for k in after if before.get(k) != after[k]]
    if not changed:
        return None
    return ProgramChange.objects.create(
        utility_id=program.utility_id,
        program=program,
        part=part,
        at=now or timezone.now(),
        actor=actor,
        actor_label=_actor_label(actor),
        before={k: before.get(k) for k in changed},
        after={k: after[k] for k in changed},
    )


def program_rules_set(*, model, program: Program, part: str, fields, values: dict, actor):
    """Create or update `program`'s one `model` row (its incentive rates, its payment rules)
    from `values`, and keep what changed in the program's history (ProgramChange)."""
    row = model.objects.select_for_update().filter(program=program).first() or model(
        utility_id=program.utility_id, program=program
    )
    before = rule_values(row, fields) if row.pk else {}
    for name in fields:
        if name in values:
            setattr(row, name, values[name])
    row.full_clean()
    row.save()
    program_change_record(
        program=program, part=part, before=before, after=rule_values(row, fields), actor=actor
    )
    return row


def event_override_permitted(*, actor, utility) -> bool:
    """Whether ``actor`` may override program rules with an emergency event (operators)."""
    if actor is None:
        return False
    if actor.is_staff:
        return True
    return Membership.objects.for_utility(utility).filter(user=actor, role=Role.OPERATOR).exists()


def _schedule_beat(event: Event) -> None:
    """One-off beat entries for the event's start and end (rows, not code)."""
    for task, when, suffix in (
        (ACTIVATE_TASK, event.start, "activate"),
        (COMPLETE_TASK, event.end, "complete"),
    ):
        clocked, _ = ClockedSchedule.objects.get_or_create(clocked_time=when)
        PeriodicTask.objects.update_or_create(
            name=f"event-{event.pk}-{suffix}",
            defaults={
                "task": task,
                "clocked": clocked,
                "one_off": True,
                "enabled": True,
                "args": json.dumps([event.pk]),
                "expire_seconds": None,
            },
        )


def _unschedule_beat(event: Event) -> None:
    PeriodicTask.objects.filter(
        name__in=[f"event-{event.pk}-activate", f"event-{event.pk}-complete"]
    ).delete()


@transaction.atomic
def event_create(
    *,
    program: Program,
    group: DispatchGroup,
    kind: str,
    start: datetime,
    duration_s: int,
    actor,
    target_w: int | None = None,
    per_device_w: int | None = None,
    setpoint_rule: str | None = None,
    selection: str | None = None,
    purpose: str | None = None,
    randomize_start_s: int = 0,
    randomize_duration_s: int = 0,
    primacy: int | None = None,
    is_test: bool = False,
    emergency_override: bool = False,
    override_reason: str = "",
    schedule: bool = True,
    now: datetime | None = None,
    controls: Mapping[str, Any] | None = None,
) -> Event:
    """Create an event after checking the program's rules, then schedule it.

    `controls` are the values of the kind's modes (programs.controls.KIND_MODES: ControlBase
    field → value, a curve mode's value a Curve; a multi-mode event's, several families'
    at once); a mode outside the kind or the program's profile, or two modes that cannot go
    together, are refused with the field named, and nothing is written.

    Operators may override rule refusals in an emergency; the refusals they overrode
    are written to the audit trail.
    """
    now = now or timezone.now()
    if group.program_id != program.pk or program.utility_id != group.utility_id:
        raise ValidationError({"group": "That dispatch group belongs to another program."})
    violations = event_rule_check(
        program=program,
        group_id=group.pk,
        start=start,
        duration_s=duration_s,
        now=now,
        is_test=is_test,
    )
    if emergency_override and not event_override_permitted(actor=actor, utility=program.utility):
        raise PermissionDenied("Only operators may override program rules in an emergency.")
    if violations and not emergency_override:
        raise EventRuleError(violations)
    controls = dict(controls or {})
    if kind == EventKind.EXPORT_LIMIT and target_w is not None:
        # Before the control base, an export limit's W was its target_w: still accepted.
        controls.setdefault("op_mod_exp_lim_w", target_w)
        target_w = None
    refusals = controls_refusals(program=program, values=controls, kind=kind)
    if target_w is not None and kind not in PLANNED_KINDS and "kind" not in refusals:
        refusals["target_w"] = f"{event_words(kind)} has no group target: its values are its modes."
    if refusals:
        raise ValidationError(refusals)

    event = Event(
        utility=program.utility,
        program=program,
        group=group,
        kind=kind,
        start=start,
        duration_s=duration_s,
        target_w=target_w,
        per_device_w=per_device_w,
        randomize_start_s=randomize_start_s,
        randomize_duration_s=randomize_duration_s,
        primacy=primacy,
        is_test=is_test,
        emergency_override=emergency_override and bool(violations),
        created_by=actor,
        **controls,
    )
    for field, value in (
        ("setpoint_rule", setpoint_rule),
        ("selection", selection),
        ("purpose", purpose),
    ):
        if value:
            setattr(event, field, value)
    event.full_clean()
    event.save()
    reason = ""
    if event.emergency_override:
        reason = "Emergency override of: " + " ".join(v.message for v in violations)
        if override_reason:
            reason = f"{override_reason}. {reason}"
    EventTransition.objects.create(
        utility_id=event.utility_id,
        event=event,
        at=now,
        actor=actor,
        actor_label=_actor_label(actor),
        from_status="",
        to_status=EventStatus.DRAFT,
        reason=reason,
        before={},
        after=_snapshot(event),
    )
    if schedule:
        event = event_schedule(event=event, actor=actor, now=now)
    return event


@transaction.atomic
def default_control_set(
    *, group: DispatchGroup, actor, values: Mapping[str, Any], replace: bool = True
) -> DefaultControl:
    """Set the group's DefaultDERControl: `values` are ControlBase modes and the
    DEFAULT_ONLY_FIELDS settings. With `replace`, what `values` leaves out is cleared."""
    values = dict(values)
    modes = {f: v for f, v in values.items() if f not in DEFAULT_ONLY_FIELDS}
    refusals = controls_refusals(program=group.program, values=modes)
    if refusals:
        raise ValidationError(refusals)
    default = DefaultControl.objects.select_for_update().filter(
        group=group
    ).first() or DefaultControl(utility_id=group.utility_id, group=group)
    if replace:
        for field in (*CONTROL_FIELDS, *DEFAULT_ONLY_FIELDS):
            setattr(default, field, None)
    for field, value in values.items():
        setattr(default, field, value)
    default.full_clean()
    default.save()
    _default_control_changed(group)
    return default


def _default_control_changed(group: DispatchGroup) -> None:
    transaction.on_commit(
        lambda: default_control_changed.send(
            sender=DefaultControl, group_id=group.pk, utility_id=group.utility_id
        )
    )


@transaction.atomic
def default_control_clear(*, group: DispatchGroup, actor) -> int:
    """Remove the group's DefaultDERControl: its DERs get no standing control."""
    deleted, _ = DefaultControl.objects.filter(group=group).delete()
    if deleted:
        _default_control_changed(group)
    return deleted


@transaction.atomic
def curve_save(*, curve: Curve) -> Curve:
    """Create or change a program's DERCurve: validated (points, y reference, a linked
    curve's type and program kept) and saved; its DERCurveList copies follow (the 2030.5
    cache watches the table)."""
    if curve.program_id is not None:
        curve.utility_id = curve.program.utility_id
    if curve.pk is not None:
        # Lock the row so a control cannot link it between the check and the save.
        Curve.objects.select_for_update().filter(pk=curve.pk).first()
    curve.full_clean()
    curve.save()
    return curve


@transaction.atomic
def curve_delete(*, curve: Curve) -> None:
    """Delete a curve no control links; a linked one is refused, naming what links it."""
    Curve.objects.select_for_update().filter(pk=curve.pk).first()
    linked = curve.linked_by()
    if linked:
        raise ValidationError(
            f"The curve {curve} cannot be deleted: {', '.join(linked)} links it. An event "
            "keeps the curve it was sent with; point a default at another curve first."
        )
    curve.delete()


@transaction.atomic
def event_schedule(*, event: Event, actor=None, now: datetime | None = None) -> Event:
    """draft → scheduled; supersedes overlapping live events of the same group (newest wins)."""
    now = now or timezone.now()
    event = Event.objects.select_for_update().get(pk=event.pk)
    if event.status != EventStatus.DRAFT:
        return event
    overlapping = (
        Event.objects.for_utility(event.utility)
        .select_for_update()
        .filter(group=event.group, status__in=LIVE_STATUSES, start__lt=event.end)
        .exclude(pk=event.pk)
    )
    # Only a scheduled event is superseded; one already running is cancelled first.
    running = [
        older
        for older in overlapping
        if older.end > event.start and older.status == EventStatus.ACTIVE
    ]
    if running:
        raise ValidationError(
            f"This overlaps event {running[0].mrid}, which is already active for the group: "
            "cancel it first, or start after it ends."
        )
    for older in overlapping:
        if older.end > event.start:
            older.superseded_by = event
            _unschedule_beat(older)
            _transition(
                older,
                to=EventStatus.SUPERSEDED,
                actor=actor,
                actor_label=_actor_label(actor),
                reason=f"Superseded by overlapping event {event.mrid}",
                now=now,
            )
    _dispatch_store(event, now=now)
    _transition(
        event, to=EventStatus.SCHEDULED, actor=actor, actor_label=_actor_label(actor), now=now
    )
    _schedule_beat(event)
    return event


def _dispatch_store(event: Event, *, now: datetime) -> None:
    """Write each device's setpoint and commitment for the event, in bulk.

    The plan is the single truth of what each device is told. A device that was in an
    earlier plan and is not in this one (emptied, gone silent, opted out) keeps its row, as
    it may already act on its control, but at 0 W; it commits nothing unless it opted out
    (an opt-out keeps the commitment it walked away from).
    """
    plan = event_plan(event=event, now=now)
    existing = {
        d.device_id: d for d in Dispatch.objects.for_utility(event.utility).filter(event=event)
    }
    new, changed = [], []
    dropped = [row for device_id, row in existing.items() if device_id not in plan]
    if dropped:
        opted_out = set(
            OptOut.objects.for_utility(event.utility)
            .filter(event=event, device_id__in=[row.device_id for row in dropped])
            .values_list("device_id", flat=True)
        )
        for row in dropped:
            row.setpoint_w = 0
            if row.device_id not in opted_out:
                row.committed_w = 0
            changed.append(row)
    for device_id, (setpoint_w, committed_w) in plan.items():
        row = existing.get(device_id)
        if row is None:
            new.append(
                Dispatch(
                    utility_id=event.utility_id,
                    event=event,
                    device_id=device_id,
                    setpoint_w=setpoint_w,
                    committed_w=committed_w,
                )
            )
        else:
            row.setpoint_w, row.committed_w = setpoint_w, committed_w
            changed.append(row)
    _dispatch_insert(new)
    Dispatch.objects.bulk_update(changed, ["setpoint_w", "committed_w"])


def event_plans_extend(
    *, utility_id: int, device_ids: list[int], now: datetime | None = None
) -> list[int]:
    """Devices heard from before a scheduled event starts join its plan.

    An event is planned when it is scheduled, from the devices online then; one that
    registered or reported only afterwards would otherwise get no Dispatch row, and so no
    control, until the start. Each scheduled event whose plan would now take in one of
    `device_ids` is planned again (idempotent, under the event's row lock). Returns the ids
    of the events planned again.
    """
    now = now or timezone.now()
    candidates = events_plans_may_take(utility_id=utility_id, device_ids=device_ids, now=now)
    if not candidates:  # every one of them planned already, or no event to join
        return []
    events = (
        Event.objects.for_utility(utility_id)
        .filter(pk__in=candidates)
        .select_related("program", "group")
        .order_by("pk")
    )
    extended = []
    for event in events:
        if not event_plan_joiners(event=event, device_ids=device_ids, now=now):
            continue
        with transaction.atomic():
            locked = Event.objects.select_for_update().get(pk=event.pk)
            if locked.status != EventStatus.SCHEDULED or locked.start <= now:
                continue
            _dispatch_store(locked, now=now)
        extended.append(event.pk)
        transaction.on_commit(partial(_announce, event_id=event.pk, utility_id=utility_id))
    return extended


def _announce(*, event_id: int, utility_id: int) -> None:
    """event_changed for a scheduled event whose plan changed (its controls did)."""
    event_changed.send(
        sender=Event, event_id=event_id, utility_id=utility_id, status=EventStatus.SCHEDULED
    )


def _dispatch_insert(rows: list[Dispatch]) -> None:
    """Insert every new Dispatch in one statement, whatever the fleet size."""
    if not rows:
        return
    table = Dispatch._meta.db_table
    columns = "utility_id, event_id, device_id, setpoint_w, committed_w"
    values = [(d.utility_id, d.event_id, d.device_id, d.setpoint_w, d.committed_w) for d in rows]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"INSERT INTO {table} ({columns}) "  # noqa: S608 - table name is ours
                "SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[],"
                " %s::integer[], %s::integer[])",
                [list(column) for column in zip(*values, strict=True)],
            )
        elif connection.vendor == "sqlite":
            # One JSON parameter sidesteps SQLite's bound-variable limit.
            cursor.execute(
                f"INSERT INTO {table} ({columns}) "  # noqa: S608 - table name is ours
                "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'),"
                " json_extract(value, '$[2]'), json_extract(value, '$[3]'),"
                " json_extract(value, '$[4]') FROM json_each(%s)",
                [json.dumps(values)],
            )
        else:
            Dispatch.objects.bulk_create(rows)


@transaction.atomic
def event_activate(
    *, event_id: int, actor_label: str = "beat", now: datetime | None = None
) -> Event:
    """scheduled → active at its start. Running it twice, or too late, is harmless."""
    now = now or timezone.now()
    event = Event.objects.select_for_update().get(pk=event_id)
    if event.status != EventStatus.SCHEDULED or now < event.start:
        return event
    # What each device commits is its availability when the event starts.
    _dispatch_store(event, now=now)
    _transition(event, to=EventStatus.ACTIVE, actor_label=actor_label, now=now)
    if now >= event.end:
        _transition(
            event,
            to=EventStatus.COMPLETED,
            actor_label=actor_label,
            now=now,
            reason="Activation arrived after the event's end",
        )
    return event


@transaction.atomic
def event_complete(
    *, event_id: int, actor_label: str = "beat", now: datetime | None = None
) -> Event:
    """active → completed at its end (a missed activation is made good first)."""
    now = now or timezone.now()
    event = Event.objects.select_for_update().get(pk=event_id)
    if now < event.end:
        return event
    if event.status == EventStatus.SCHEDULED:
        _transition(
            event,
            to=EventStatus.ACTIVE,
            actor_label=actor_label,
            now=now,
            reason="Activation was missed; made good at completion",
        )
    if event.status == EventStatus.ACTIVE:
        _transition(event, to=EventStatus.COMPLETED, actor_label=actor_label, now=now)
    return event


@transaction.atomic
def event_cancel(*, event: Event, actor, reason: str = "", now: datetime | None = None) -> Event:
    """Cancel a scheduled or active event (cancelling twice is a no-op). Never deleted."""
    now = now or timezone.now()
    event = Event.objects.select_for_update().get(pk=event.pk)
    if event.status == EventStatus.CANCELLED:
        return event
    if event.status not in LIVE_STATUSES:
        raise ValidationError(
            f"A {event.get_status_display().lower()} event cannot be cancelled: "
            "only a scheduled or active event can."
        )
    _unschedule_beat(event)
    _transition(
        event,
        to=EventStatus.CANCELLED,
        actor=actor,
        actor_label=_actor_label(actor),
        reason=reason,
        now=now,
    )
    return event


def events_reconcile(*, now: datetime | None = None) -> dict[str, int]:
    """The periodic safety net: move any event whose time has come, whatever beat missed."""
    now = now or timezone.now()
    activated = completed = 0
    due_start = Event.objects.filter(status=EventStatus.SCHEDULED, start__lte=now)
    for event_id in due_start.values_list("pk", flat=True):
        if event_activate(event_id=event_id, actor_label="reconciler", now=now).status != (
            EventStatus.SCHEDULED
        ):
            activated += 1
    # Events last at least a minute; the end check itself happens per event below.
    due_end = Event.objects.filter(status=EventStatus.ACTIVE, start__lte=now - timedelta(minutes=1))
    for event in due_end:
        if event.end <= now:
            event_complete(event_id=event.pk, actor_label="reconciler", now=now)
            completed += 1
    return {"activated": activated, "completed": completed}


def participant_add(*, program: Program, device, now: datetime | None = None) -> Participant:
    """Make a device dispatchable in a program (idempotent)."""
    if device.utility_id != program.utility_id:
        raise ValidationError("The device belongs to another utility.")
    existing = (
        Participant.objects.for_utility(program.utility)
        .filter(program=program, device=device, left_at__isnull=True)
        .first()
    )
    if existing:
        return existing
    participant = Participant(
        utility=program.utility, program=program, device=device, joined_at=now or timezone.now()
    )
    participant.full_clean()
    participant.save()
    return participant


def participant_remove(*, program: Program, device, now: datetime | None = None) -> int:
    return (
        Participant.objects.for_utility(program.utility)
        .filter(program=program, device=device, left_at__isnull=True)
        .update(left_at=now or timezone.now())
    )


@transaction.atomic
def group_member_add(*, group, device, now: datetime | None = None) -> Participant:
    """Make a device a member of a dispatch group: it takes part in the group's program
    and must meet the group's criteria (else refused, nothing written)."""
    participant = participant_add(program=group.program, device=device, now=now)
    if not group_devices(group=group).filter(pk=device.pk).exists():
        raise ValidationError(
            "The device does not meet this group's criteria (states, ZIP prefixes, "
            "feeders, vendors)."
        )
    return participant


def group_member_remove(*, group, device, now: datetime | None = None) -> int:
    """A group's members are its program's participants that meet its criteria: removing
    one ends its participation in the program (every group of that program)."""
    return participant_remove(program=group.program, device=device, now=now)


@transaction.atomic
def dispatch_group_attach_device(*, group: DispatchGroup, identity: str, actor) -> Device:
    """A program manager attaches a registered device, named by its LFDI or SFDI, to a
    dispatch group, whatever the group's criteria. The device must already take part in
    the group's program (through an enrollment). Each refusal says why and changes nothing.
    Scheduled events of the group that have not started plan it in at once."""
    device = device_by_identity(utility=group.utility, identity=identity)
    takes_part = (
        Participant.objects.for_utility(group.utility)
        .filter(program_id=group.program_id, device=device, left_at__isnull=True)
        .exists()
    )
    if not takes_part:
        raise ValidationError(
            f"That device does not take part in {group.program}: attach it to an enrollment "
            "of the program first."
        )
    if group_devices(group=group).filter(pk=device.pk).exists():
        raise ValidationError(f"That device is already in the group {group.name}.")
    member = DispatchGroupMember(
        utility_id=group.utility_id,
        group=group,
        device=device,
        attached_at=timezone.now(),
        attached_by=actor,
    )
    member.full_clean()
    member.save()
    utility_id, device_id = group.utility_id, device.pk
    transaction.on_commit(lambda: event_plans_extend(utility_id=utility_id, device_ids=[device_id]))
    return device


def violations_as_dicts(violations: list[RuleViolation]) -> list[dict]:
    return [asdict(v) for v in violations]


@transaction.atomic
def opt_out_record(*, event: Event, device, source: str, now: datetime | None = None) -> OptOut:
    """A device sits out an event (idempotent); it is dropped from the event's plan.

    A customer's choice (``source="portal"``: the account page or an email's link) follows
    the program's opt-out rules and is refused in words; a 2030.5 Response reports what the
    device already did, and program staff may always excuse a device.
    """
    now = now or timezone.now()
    if device.utility_id != event.utility_id:
        raise ValidationError("The device belongs to another utility.")
    if event.status in (EventStatus.COMPLETED, EventStatus.CANCELLED, EventStatus.SUPERSEDED):
        raise ValidationError(f"The event is already {event.get_status_display().lower()}.")
    if source == OptOut.Source.PORTAL:
        # Serialise one device's opt-outs so two clicks cannot both take the last one.
        type(device).objects.select_for_update().filter(pk=device.pk).first()
        if OptOut.objects.filter(event=event, device=device).exists():
            return OptOut.objects.get(event=event, device=device)
        refusal = opt_out_refusal(event=event, device=device, now=now)
        if refusal:
            raise ValidationError(refusal)
    opt_out, created = OptOut.objects.get_or_create(
        utility_id=event.utility_id,
        event=event,
        device=device,
        defaults={"source": source, "at": now},
    )
    if created:
        Dispatch.objects.for_utility(event.utility).filter(event=event, device=device).update(
            setpoint_w=0
        )
        utility_id, event_id, status = event.utility_id, event.pk, event.status
        transaction.on_commit(
            lambda: event_changed.send(
                sender=Event, event_id=event_id, utility_id=utility_id, status=status
            )
        )
    return opt_out


# --- Modbus read-back --------------------------------------------------------------------

# A Modbus site posts no Response: the setpoint it reads back during the event is its
# "started", and the release it reads back once the event has completed is its "completed".
# Each only advances the Dispatch (a 2030.5 answer or an opt-out is never overwritten).
_READBACK_ADVANCES_FROM: dict[int, Q] = {
    ResponseStatus.STARTED: Q(last_response__isnull=True)
    | Q(last_response=ResponseStatus.RECEIVED),
    ResponseStatus.COMPLETED: Q(last_response=ResponseStatus.STARTED),
}


def dispatch_readback_record(
    *, event: Event, device_ids: list[int], code: int, now: datetime | None = None
) -> int:
    """Record what Modbus devices read back for ``event`` as the Response it amounts to
    (``ResponseStatus.STARTED`` or ``COMPLETED``); returns how many dispatches advanced."""
    if code not in _READBACK_ADVANCES_FROM:
        raise ValidationError(f"read-back cannot report response status {code}")
    if not device_ids:
        return 0
    now = now or timezone.now()
    updated = (
        Dispatch.objects.for_utility(event.utility)
        .filter(_READBACK_ADVANCES_FROM[code], event=event, device_id__in=device_ids)
        .update(last_response=code, last_response_at=now)
    )
    if updated:
        utility_id = event.utility_id
        transaction.on_commit(
            lambda: dispatch_responded.send(
                sender=Dispatch, event_id=event.pk, utility_id=utility_id
            )
        )
    return updated


class SiteEnvelopesRefused(ValidationError):
    """A batch of site envelopes refused whole: `rows` lists (row index, field, message)."""

    def __init__(self, rows: list[tuple[int, str, str]]):
        self.rows = rows
        super().__init__([f"row {i}, {field}: {message}" for i, field, message in rows])


# What a posted envelope row may set.
SITE_ENVELOPE_FIELDS = ("connection_point_id", "start", "duration_s", *SITE_ENVELOPE_LIMITS)


@transaction.atomic
def site_envelopes_publish(
    *, program: Program, rows: list[Mapping[str, Any]], now: datetime | None = None
) -> int:
    """Publish a batch of site envelopes (a DNSP's DOEs: many NMIs, one or more intervals),
    all or nothing, and answer how many were stored.

    Each row is checked (an NMI, with or without its checksum digit, stored without it; a
    duration of at least 60 s; at least one limit). A row that overlaps another row of the
    batch, or a stored envelope that is not cancelled, for the same NMI is refused. A row
    with the same NMI and start as a stored envelope replaces it: new limits, duration, mRID
    and creation time, and no longer cancelled (so clients see a new DERControl and drop
    the old one). Written in one INSERT … ON CONFLICT statement."""
    if program.site_envelope_primacy is None:
        raise ValidationError(
            "This program publishes no site envelopes: set its site envelope primacy first."
        )
    now = now or timezone.now()
    envelopes, refusals = _site_envelopes_checked(program, rows, now)
    refusals += _site_envelope_overlaps(program, envelopes)
    if refusals:
        raise SiteEnvelopesRefused(sorted(refusals))
    SiteEnvelope.objects.bulk_create(
        [envelope for _, envelope in envelopes],
        batch_size=2000,
        update_conflicts=True,
        unique_fields=["program", "connection_point_id", "start"],
        update_fields=["mrid", "duration_s", *SITE_ENVELOPE_LIMITS, "created", "cancelled_at"],
    )
    _site_envelopes_changed(program, {e.connection_point_id for _, e in envelopes})
    return len(envelopes)


def _site_envelopes_checked(
    program: Program, rows: list[Mapping[str, Any]], now: datetime
) -> tuple[list[tuple[int, SiteEnvelope]], list[tuple[int, str, str]]]:
    """Each row as an unsaved envelope (index kept), and what is wrong with the others."""
    envelopes, refusals = [], []
    for index, row in enumerate(rows):
        envelope = SiteEnvelope(
            utility_id=program.utility_id,
            program=program,
            created=now,
            **{name: row.get(name) for name in SITE_ENVELOPE_FIELDS},
        )
        try:
            # Checked as sent (with its checksum digit, if any), kept without it.
            validate_nmi(envelope.connection_point_id or "")
            envelope.connection_point_id = envelope.connection_point_id[:NMI_LENGTH]
            # The program is known; unique and overlap checks are made for the whole batch
            # below, in one query (full_clean would make one per row).
            envelope.full_clean(
                exclude=["utility", "program"], validate_unique=False, validate_constraints=False
            )
        except ValidationError as exc:
            refusals += [
                (index, field, message)
                for field, messages in _message_dict(exc, "connection_point_id").items()
                for message in messages
            ]
            continue
        if all(getattr(envelope, limit) is None for limit in SITE_ENVELOPE_LIMITS):
            refusals.append((index, "op_mod_exp_lim_w", "An envelope needs at least one limit."))
            continue
        envelopes.append((index, envelope))
    return envelopes, refusals


def _message_dict(exc: ValidationError, field: str) -> dict[str, list[str]]:
    """`exc`'s messages by field; a bare one (validate_nmi's) is `field`'s."""
    return exc.message_dict if hasattr(exc, "error_dict") else {field: exc.messages}


def _site_envelope_overlaps(
    program: Program, envelopes: list[tuple[int, SiteEnvelope]]
) -> list[tuple[int, str, str]]:
    """Rows whose interval overlaps another row's, or a stored envelope's that it does not
    replace (not cancelled, same NMI, another start)."""
    if not envelopes:
        return []
    stored = (
        SiteEnvelope.objects.for_utility(program.utility_id)
        .filter(
            program=program,
            cancelled_at__isnull=True,
            connection_point_id__in={e.connection_point_id for _, e in envelopes},
            start__lt=max(e.end for _, e in envelopes),
        )
        .annotate(end_at=interval_end())
        .filter(end_at__gt=min(e.start for _, e in envelopes))
        .only("connection_point_id", "start", "duration_s")
    )
    by_nmi: dict[str, list[tuple[datetime, datetime, str]]] = {}
    posted = {(e.connection_point_id, e.start) for _, e in envelopes}
    for old in stored:
        if (old.connection_point_id, old.start) not in posted:  # replaced, not overlapped
            by_nmi.setdefault(old.connection_point_id, []).append(
                (old.start, old.end, "a published envelope")
            )
    refusals = []
    for index, new in sorted(envelopes, key=lambda item: (item[1].start, item[0])):
        taken = by_nmi.setdefault(new.connection_point_id, [])
        for start, end, what in taken:
            if start < new.end and new.start < end:
                refusals.append(
                    (
                        index,
                        "start",
                        f"NMI {new.connection_point_id}: {new.start.isoformat()} for "
                        f"{new.duration_s} s overlaps {what} from {start.isoformat()} to "
                        f"{end.isoformat()}.",
                    )
                )
                break
        else:
            taken.append((new.start, new.end, f"row {index}"))
    return refusals


def site_envelope_cancel(*, envelope: SiteEnvelope, now: datetime | None = None) -> SiteEnvelope:
    """Cancel an envelope: its sites are shown it as cancelled until its interval ends.
    Cancelling it again changes nothing."""
    if envelope.cancelled_at is None:
        envelope.cancelled_at = now or timezone.now()
        envelope.save(update_fields=["cancelled_at"])
        _site_envelopes_changed(envelope.program, {envelope.connection_point_id})
    return envelope


def _site_envelopes_changed(program: Program, connection_point_ids: set[str]) -> None:
    nmis = sorted(connection_point_ids)
    transaction.on_commit(
        lambda: site_envelopes_changed.send(
            sender=SiteEnvelope,
            program_id=program.pk,
            utility_id=program.utility_id,
            connection_point_ids=nmis,
        )
    )
