"""Writes for enrollment: the enrollment state machine, eligibility, device linking and
telemetry verification, the whitelist import and customer accounts. (Vendor onboarding is
in vendors.services.)

State machine::

    submitted → eligible | ineligible → approved → device_linked → telemetry_verified → active
    submitted | eligible | ineligible → rejected;  open → withdrawn;  approved … active → terminated
"""

import csv
import io
import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from celery import current_app
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from devices.models import Device
from devices.selectors import device_by_identity
from enrollment import eligibility
from enrollment.choices import OPEN_STATES
from enrollment.choices import EnrollmentState as S
from enrollment.models import (
    NOTICE_RELATED,
    AccountWhitelist,
    Customer,
    EligibilityResult,
    Enrollment,
    EnrollmentTransition,
    EventNotice,
    IncentiveRates,
    ProgramTerms,
)
from programs import services as program_services
from programs.choices import ProgramPart
from programs.models import Participant, Program
from tenancy.db import ANALYZE_AFTER_ROWS, analyze
from tenancy.generations import Fact

logger = logging.getLogger(__name__)

# to-state → the states it may be reached from.
ALLOWED = {
    S.ELIGIBLE: {S.SUBMITTED, S.INELIGIBLE},
    S.INELIGIBLE: {S.SUBMITTED, S.INELIGIBLE},
    S.APPROVED: {S.ELIGIBLE},
    S.REJECTED: {S.SUBMITTED, S.ELIGIBLE, S.INELIGIBLE},
    S.DEVICE_LINKED: {S.APPROVED},
    S.TELEMETRY_VERIFIED: {S.DEVICE_LINKED},
    S.ACTIVE: {S.TELEMETRY_VERIFIED},
    S.WITHDRAWN: {
        S.SUBMITTED, S.ELIGIBLE, S.INELIGIBLE, S.APPROVED, S.DEVICE_LINKED,
        S.TELEMETRY_VERIFIED, S.ACTIVE,
    },
    S.TERMINATED: {S.APPROVED, S.DEVICE_LINKED, S.TELEMETRY_VERIFIED, S.ACTIVE},
}  # fmt: skip


class IllegalTransition(ValidationError):
    """The enrollment is not in a state this step may start from."""


class AlreadyEnrolled(ValidationError):
    """The site or account already holds an open enrollment in the program."""


def _actor_label(actor) -> str:
    if actor is None:
        return "system"
    return getattr(actor, "email", "") or str(actor)


def _lock(enrollment: Enrollment) -> Enrollment:
    """Re-read the row under a lock so two decisions cannot both start from one state."""
    return (
        Enrollment.objects.for_utility(enrollment.utility)
        .select_for_update(of=("self",))
        .select_related("utility", "program", "equipment", "device", "customer__user")
        .get(pk=enrollment.pk)
    )


def _transition(
    enrollment: Enrollment,
    *,
    to: str,
    actor=None,
    actor_label: str = "",
    reason: str = "",
    now: datetime | None = None,
    extra_fields: tuple[str, ...] = (),
) -> Enrollment:
    now = now or timezone.now()
    before = enrollment.state
    if before not in ALLOWED[to]:
        raise IllegalTransition(
            f"An enrollment that is {enrollment.get_state_display().lower()} cannot become "
            f"{S(to).label.lower()}."
        )
    enrollment.state = to
    enrollment.state_reason = reason[:500]
    enrollment.state_changed_at = now
    try:
        enrollment.save(update_fields=["state", "state_reason", "state_changed_at", *extra_fields])
    except IntegrityError as exc:  # re-opening a site someone else now holds
        raise AlreadyEnrolled("This site already has an open enrollment in the program.") from exc
    EnrollmentTransition.objects.create(
        utility_id=enrollment.utility_id,
        enrollment=enrollment,
        from_state=before,
        to_state=to,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=actor_label or _actor_label(actor),
        reason=reason[:500],
        at=now,
    )
    _notify_on_commit(enrollment, to)
    return enrollment


NOTIFY_ON = {
    S.SUBMITTED: "received",
    S.APPROVED: "approved",
    S.REJECTED: "rejected",
    S.INELIGIBLE: "rejected",
    S.ACTIVE: "active",
}


def _notify_on_commit(enrollment: Enrollment, to: str) -> None:
    kind = NOTIFY_ON.get(to)
    if kind:
        notify_on_commit(enrollment_id=enrollment.pk, kind=kind)


def notify_on_commit(*, enrollment_id: int, kind: str, **context) -> None:
    """Queue the notice email once the transaction that caused it has committed.

    Queued by the task's name (`enrollment.tasks` imports this module, not the reverse).
    """
    transaction.on_commit(
        lambda: current_app.send_task(
            "enrollment.notify", args=[enrollment_id, kind, context], expires=24 * 3600
        )
    )


# --- Customers and submission ----------------------------------------------------------


def customer_account_create(*, utility, email: str, password: str, name: str) -> Customer:
    """A new customer login for one utility. An email already in use is refused."""
    email = email.strip().lower()
    User = get_user_model()
    if User.objects.filter(username__iexact=email).exists():
        raise ValidationError(
            {"email": "An account with this email already exists. Log in to continue."}
        )
    user = User(username=email, email=email, first_name=name[:150])
    user.set_password(password)
    user.full_clean()
    user.save()
    customer = Customer(utility=utility, user=user, name=name)
    customer.full_clean()
    customer.save()
    return customer


def terms_current(*, program) -> ProgramTerms | None:
    """The newest published terms of a program."""
    return (
        ProgramTerms.objects.for_utility(program.utility)
        .filter(program=program, published_at__isnull=False, published_at__lte=timezone.now())
        .order_by("-version")
        .first()
    )


@transaction.atomic
def enrollment_submit(
    *,
    program,
    customer: Customer | None,
    email: str,
    street: str,
    city: str,
    state_code: str,
    zip_code: str,
    account_number: str,
    vendor_name: str,
    model_name: str,
    serial: str,
    install_date: date,
    has_solar: bool,
    solar_kw: Decimal | None,
    terms: ProgramTerms,
    now: datetime | None = None,
) -> Enrollment:
    """A new enrollment in ``submitted``; eligibility is checked straight after.

    A second open enrollment for the same site or account in the program is refused by the
    database (two concurrent requests: exactly one wins).
    """
    now = now or timezone.now()
    if terms.program_id != program.pk:
        raise ValidationError({"terms": "Those terms belong to another program."})
    if customer is not None and customer.utility_id != program.utility_id:
        raise ValidationError("The customer belongs to another utility.")
    enrollment = Enrollment(
        utility_id=program.utility_id,
        program=program,
        customer=customer,
        email=email.strip(),
        street=street.strip(),
        city=city.strip(),
        state_code=state_code.strip().upper(),
        zip_code=zip_code.strip(),
        account_number=re.sub(r"[\s-]", "", account_number),
        vendor_name=vendor_name.strip(),
        model_name=model_name.strip(),
        equipment=eligibility.qualified_equipment_for(
            program=program, vendor_name=vendor_name.strip(), model_name=model_name.strip()
        ),
        serial=serial.strip(),
        install_date=install_date,
        has_solar=has_solar,
        solar_kw=solar_kw if has_solar else None,
        terms=terms,
        state=S.SUBMITTED,
        state_changed_at=now,
        submitted_at=now,
    )
    # Constraint checks here would race; the database's unique index decides.
    enrollment.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            enrollment.save()
    except IntegrityError as exc:
        raise AlreadyEnrolled(
            "This address or account already has an open enrollment in this program."
        ) from exc
    EnrollmentTransition.objects.create(
        utility_id=enrollment.utility_id,
        enrollment=enrollment,
        from_state="",
        to_state=S.SUBMITTED,
        actor=customer.user if customer else None,
        actor_label=email.strip() or "customer",
        at=now,
    )
    _notify_on_commit(enrollment, S.SUBMITTED)
    return enrollment_check_eligibility(enrollment=enrollment, now=now)


@transaction.atomic
def enrollment_check_eligibility(
    *, enrollment: Enrollment, actor=None, now: datetime | None = None
) -> Enrollment:
    """Run every rule, store each result, and move to eligible or ineligible."""
    now = now or timezone.now()
    enrollment = _lock(enrollment)
    if enrollment.state not in (S.SUBMITTED, S.INELIGIBLE):
        raise IllegalTransition(
            f"Eligibility is checked on submitted enrollments, not "
            f"{enrollment.get_state_display().lower()} ones."
        )
    outcomes = eligibility.evaluate(enrollment=enrollment)
    EligibilityResult.objects.filter(enrollment=enrollment).delete()
    EligibilityResult.objects.bulk_create(
        EligibilityResult(
            utility_id=enrollment.utility_id,
            enrollment=enrollment,
            rule=o.rule,
            passed=o.passed,
            reason=o.reason[:500],
            checked_at=now,
        )
        for o in outcomes
    )
    failed = [o.reason for o in outcomes if not o.passed]
    to = S.INELIGIBLE if failed else S.ELIGIBLE
    reason = " ".join(failed) if failed else "Every eligibility rule passed."
    if to == enrollment.state == S.INELIGIBLE:
        enrollment.state_reason = reason[:500]
        enrollment.save(update_fields=["state_reason"])
        return enrollment
    return _transition(
        enrollment, to=to, actor=actor, actor_label="eligibility", reason=reason, now=now
    )


# --- Decisions ---------------------------------------------------------------------------


@transaction.atomic
def enrollment_approve(
    *, enrollment: Enrollment, actor, reason: str = "", now: datetime | None = None
) -> Enrollment:
    """Approve an eligible enrollment; the incentive is fixed now from the program's rates.

    A device already in the fleet with the enrollment's vendor and serial is linked at once.
    """
    now = now or timezone.now()
    enrollment = _lock(enrollment)
    rates = (
        IncentiveRates.objects.for_utility(enrollment.utility)
        .filter(program=enrollment.program)
        .first()
    )
    if enrollment.state == S.ELIGIBLE:
        if rates is None:
            raise ValidationError("The program has no incentive rates; set them before approving.")
        if enrollment.equipment is None:
            raise ValidationError("The battery model is not on the qualified list.")
        enrollment.incentive_upfront = rates.upfront_for(
            nameplate_w=enrollment.equipment.nameplate_w
        )
        enrollment.participation_credit_per_kw = rates.participation_credit_per_kw
        enrollment.credit_period = rates.credit_period
        enrollment.approved_at = now
    _transition(
        enrollment,
        to=S.APPROVED,
        actor=actor,
        reason=reason or "Approved.",
        now=now,
        extra_fields=(
            "incentive_upfront", "participation_credit_per_kw", "credit_period", "approved_at",
        ),
    )  # fmt: skip
    device = device_for(enrollment=enrollment)
    if device is not None:
        return enrollment_link_device(enrollment=enrollment, device=device, actor=actor, now=now)
    return enrollment


@transaction.atomic
def enrollment_reject(
    *, enrollment: Enrollment, actor, reason: str, now: datetime | None = None
) -> Enrollment:
    if not reason.strip():
        raise ValidationError({"reason": "Give the customer a reason for the rejection."})
    enrollment = _lock(enrollment)
    return _transition(enrollment, to=S.REJECTED, actor=actor, reason=reason.strip(), now=now)


@dataclass
class BulkResult:
    done: list[int] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)


def enrollments_bulk_decide(
    *, utility, ids: list[int], approve: bool, actor, reason: str = ""
) -> BulkResult:
    """Approve or reject many enrollments. Ids of another utility are ignored (fail closed)."""
    if not approve and not reason.strip():
        raise ValidationError({"reason": "Give the customers a reason for the rejection."})
    result = BulkResult()
    for enrollment in Enrollment.objects.for_utility(utility).filter(pk__in=ids).order_by("pk"):
        try:
            if approve:
                enrollment_approve(enrollment=enrollment, actor=actor, reason=reason)
            else:
                enrollment_reject(enrollment=enrollment, actor=actor, reason=reason)
        except ValidationError as exc:
            result.skipped[enrollment.pk] = " ".join(exc.messages)
        else:
            result.done.append(enrollment.pk)
    return result


# --- Device and telemetry ----------------------------------------------------------------


def device_for(*, enrollment: Enrollment) -> Device | None:
    """The fleet device with the enrollment's vendor and serial, if it has appeared."""
    return (
        Device.objects.for_utility(enrollment.utility)
        .filter(
            vendor_name__iexact=enrollment.vendor_name.strip(),
            serial__iexact=enrollment.serial.strip(),
        )
        .first()
    )


@transaction.atomic
def enrollment_link_device(
    *, enrollment: Enrollment, device: Device, actor=None, now: datetime | None = None
) -> Enrollment:
    """Tie the approved enrollment to its fleet device; verify at once if it already reports."""
    now = now or timezone.now()
    if device.utility_id != enrollment.utility_id:
        raise ValidationError("The device belongs to another utility.")
    enrollment = _lock(enrollment)
    enrollment.device = device
    _transition(
        enrollment,
        to=S.DEVICE_LINKED,
        actor=actor,
        actor_label="" if actor else "device link",
        reason=f"Linked to {device}.",
        now=now,
        extra_fields=("device",),
    )
    return enrollment_verify_telemetry(enrollment=enrollment, now=now)


@transaction.atomic
def enrollment_attach_device(*, enrollment: Enrollment, identity: str, actor) -> Enrollment:
    """A program manager attaches a registered device, named by its LFDI or SFDI, to an
    approved enrollment: for devices whose 2030.5 client sends no DeviceInformation, so
    that matching on vendor and serial (device_for) cannot find them. Each refusal says
    why in words and changes nothing."""
    device = device_by_identity(utility=enrollment.utility, identity=identity)
    enrollment = _lock(enrollment)
    if enrollment.state != S.APPROVED:
        raise ValidationError(
            "Only an approved enrollment takes a device; this one is "
            f"{enrollment.get_state_display().lower()}."
        )
    other = (
        Enrollment.objects.for_utility(enrollment.utility)
        .filter(device=device, state__in=OPEN_STATES)
        .exclude(pk=enrollment.pk)
        .first()
    )
    if other is not None:
        raise ValidationError(
            f"That device is already attached to enrollment #{other.pk} ({other.email}, "
            f"{other.get_state_display().lower()})."
        )
    elsewhere = (
        Participant.objects.for_utility(enrollment.utility)
        .filter(device=device, left_at__isnull=True)
        .exclude(program=enrollment.program)
        .select_related("program")
        .first()
    )
    if elsewhere is not None:
        raise ValidationError(f"That device already takes part in {elsewhere.program}.")
    return enrollment_link_device(enrollment=enrollment, device=device, actor=actor)


@dataclass(frozen=True)
class TelemetryCheck:
    fresh: bool
    plausible: bool
    reason: str

    @property
    def ok(self) -> bool:
        return self.fresh and self.plausible


def telemetry_check(*, enrollment: Enrollment, device: Device, now: datetime) -> TelemetryCheck:
    """Whether the device's latest reading is fresh (within the window) and plausible."""
    rules = eligibility.rules_for(enrollment.program)
    window = timedelta(hours=rules.verification_window_h)
    fresh = device.last_heard_at is not None and now - device.last_heard_at <= window
    limit_w = enrollment.nameplate_w or device.max_discharge_w or 0
    implausible = []
    if device.soc_pct is None or not 0 <= device.soc_pct <= 100:
        implausible.append("no state of charge between 0 and 100 %")
    if device.power_w is None:
        implausible.append("no power reading")
    elif limit_w and abs(device.power_w) > limit_w:
        implausible.append(f"power {device.power_w:g} W beyond the {limit_w} W nameplate")
    stale = []
    if not fresh:
        heard = device.last_heard_at
        when = f"last heard {heard:%Y-%m-%d %H:%M} UTC" if heard else "never heard from"
        stale.append(f"{when}, not within {rules.verification_window_h} h")
    reason = "; ".join(stale + implausible) or "Fresh, plausible readings."
    return TelemetryCheck(fresh=fresh, plausible=not implausible, reason=reason)


@transaction.atomic
def enrollment_verify_telemetry(
    *, enrollment: Enrollment, now: datetime | None = None
) -> Enrollment:
    """device_linked → telemetry_verified → active when the device's readings pass."""
    now = now or timezone.now()
    enrollment = _lock(enrollment)
    if enrollment.state != S.DEVICE_LINKED or enrollment.device is None:
        return enrollment
    check = telemetry_check(enrollment=enrollment, device=enrollment.device, now=now)
    if not check.ok:
        return enrollment
    _transition(
        enrollment,
        to=S.TELEMETRY_VERIFIED,
        actor_label="telemetry",
        reason=check.reason,
        now=now,
    )
    return enrollment_activate(enrollment=enrollment, now=now)


@transaction.atomic
def enrollment_activate(*, enrollment: Enrollment, now: datetime | None = None) -> Enrollment:
    now = now or timezone.now()
    enrollment = _lock(enrollment)
    enrollment.activated_at = now
    _transition(
        enrollment,
        to=S.ACTIVE,
        actor_label="telemetry",
        reason="Verified telemetry; the battery now takes part in events.",
        now=now,
        extra_fields=("activated_at",),
    )
    program_services.participant_add(program=enrollment.program, device=enrollment.device, now=now)
    return enrollment


def _leave(enrollment, *, to, actor, reason, now) -> Enrollment:
    enrollment = _lock(enrollment)
    was_active = enrollment.state == S.ACTIVE
    _transition(enrollment, to=to, actor=actor, reason=reason, now=now)
    if was_active and enrollment.device is not None:
        program_services.participant_remove(
            program=enrollment.program, device=enrollment.device, now=now
        )
    return enrollment


@transaction.atomic
def enrollment_withdraw(
    *, enrollment: Enrollment, actor, reason: str = "", now: datetime | None = None
) -> Enrollment:
    """The customer leaves; an active battery stops being dispatched."""
    return _leave(
        enrollment, to=S.WITHDRAWN, actor=actor, reason=reason or "Withdrawn by the customer.",
        now=now or timezone.now(),
    )  # fmt: skip


@transaction.atomic
def enrollment_terminate(
    *, enrollment: Enrollment, actor, reason: str, now: datetime | None = None
) -> Enrollment:
    """The program ends the enrollment (e.g. the device stopped reporting for good)."""
    if not reason.strip():
        raise ValidationError({"reason": "Give a reason for ending the enrollment."})
    return _leave(
        enrollment, to=S.TERMINATED, actor=actor, reason=reason, now=now or timezone.now()
    )


# Bumped by every write to enrollment_enrollment (EnrollmentConfig.ready watches the table).
ENROLLMENTS_KEY = "enrollment.enrollments"
# Per utility: whether any enrollment waits for its device (approved, or linked unverified).
_waiting: Fact[bool] = Fact(ENROLLMENTS_KEY)


def _waits_for_telemetry() -> Q:
    return Q(state=S.APPROVED, device__isnull=True) | Q(state=S.DEVICE_LINKED)


def enrollments_on_telemetry(*, utility_id: int, device_ids: list[int]) -> int:
    """After telemetry arrives: link approved enrollments to newly seen devices, verify linked
    ones. Returns how many enrollments moved. Each enrollment is its own transaction.

    Ingest is hot: whether a utility has any enrollment waiting for a device is kept in the
    process until an enrollment is written, so while none waits a report costs nothing
    here (it was a cache round trip; issue 18).
    """
    waits = _waiting.get(
        utility_id,
        lambda: (
            Enrollment.objects.filter(utility_id=utility_id).filter(_waits_for_telemetry()).exists()
        ),
    )
    if not waits:
        return 0
    waiting = list(
        Enrollment.objects.filter(utility_id=utility_id).filter(
            Q(state=S.APPROVED, device__isnull=True)
            | Q(state=S.DEVICE_LINKED, device_id__in=device_ids)
        )
    )
    if not waiting:
        return 0
    moved = 0
    devices = Device.objects.filter(utility_id=utility_id, pk__in=device_ids)
    by_serial = {(d.vendor_name.lower(), d.serial.lower()): d for d in devices}
    for enrollment in waiting:
        try:
            if enrollment.state == S.APPROVED:
                device = by_serial.get((enrollment.vendor_name.lower(), enrollment.serial.lower()))
                if device is None:
                    continue
                enrollment = enrollment_link_device(enrollment=enrollment, device=device)
            else:
                enrollment = enrollment_verify_telemetry(enrollment=enrollment)
        except ValidationError:
            logger.exception("could not link or verify enrollment %s", enrollment.pk)
            continue
        moved += 1
    return moved


# --- Whitelist import --------------------------------------------------------------------

WHITELIST_COLUMNS = ("account_number", "program", "medical_baseline", "excluded", "preapproved",
                     "exclusion_reason")  # fmt: skip
_TRUE = {"1", "true", "yes", "y", "x"}
_FALSE = {"", "0", "false", "no", "n"}


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    errors: list[str] = field(default_factory=list)


def _flag(value: str, column: str) -> bool:
    value = (value or "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{column} must be yes or no, not {value!r}")


def whitelist_import(*, utility, file_text: str, max_rows: int = 50_000) -> ImportResult:
    """Import accounts from CSV: every row valid or nothing is written; errors name the row.

    Columns: account_number (required), program (slug, blank for all programs),
    medical_baseline, excluded, preapproved (yes/no), exclusion_reason.
    """

    result = ImportResult()
    reader = csv.DictReader(io.StringIO(file_text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if "account_number" not in header:
        result.errors.append("Row 1: the header must include account_number.")
        return result
    unknown = set(header) - set(WHITELIST_COLUMNS)
    if unknown:
        result.errors.append(f"Row 1: unknown columns {', '.join(sorted(unknown))}.")
        return result
    programs = {p.slug: p for p in Program.objects.for_utility(utility)}
    patterns = {
        p.pk: eligibility.rules_for(p) for p in programs.values()
    }  # account formats per program
    rows, seen = [], set()
    for line, raw in enumerate(reader, start=2):
        if line - 1 > max_rows:
            result.errors.append(f"Row {line}: more than {max_rows} rows; split the file.")
            break
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k}
        try:
            account = re.sub(r"[\s-]", "", row.get("account_number", ""))
            if not account:
                raise ValueError("account_number is empty")
            if len(account) > 32 or not account.isalnum():
                raise ValueError("account_number must be up to 32 letters or digits")
            slug = row.get("program", "")
            program = None
            if slug:
                program = programs.get(slug)
                if program is None:
                    raise ValueError(f"no program {slug!r} at this utility")
                if not eligibility.account_well_formed(
                    rules=patterns[program.pk], account_number=account
                ):
                    raise ValueError(f"account_number {account} is not in {program.name}'s format")
            key = (account, program.pk if program else None)
            if key in seen:
                raise ValueError(f"account_number {account} appears twice")
            seen.add(key)
            reason = row.get("exclusion_reason", "")
            if len(reason) > 200:
                raise ValueError("exclusion_reason is longer than 200 characters")
            rows.append(
                (
                    account,
                    program,
                    {
                        "medical_baseline": _flag(
                            row.get("medical_baseline", ""), "medical_baseline"
                        ),
                        "excluded": _flag(row.get("excluded", ""), "excluded"),
                        "preapproved": _flag(row.get("preapproved", ""), "preapproved"),
                        "exclusion_reason": reason,
                    },
                )
            )
        except ValueError as exc:
            result.errors.append(f"Row {line}: {exc}.")
    if result.errors:
        return result
    if not rows:
        result.errors.append("The file has no rows.")
        return result
    with transaction.atomic():
        for account, program, flags in rows:
            _, created = AccountWhitelist.objects.update_or_create(
                utility=utility, account_number=account, program=program, defaults=flags
            )
            if created:
                result.created += 1
            else:
                result.updated += 1
    if len(rows) >= ANALYZE_AFTER_ROWS:
        analyze(AccountWhitelist)
    return result


# --- Event reminders ---------------------------------------------------------------------


def event_notices_queue(*, utility_id: int, event_id: int) -> int:
    """One notice per active enrollment whose battery a scheduled event dispatches.

    event_changed fires again on opt-outs and re-plans; the notice row (unique per event
    and enrollment) keeps it to one email each, whichever process gets there first. The
    email is composed and sent by the ``portal.event_notice`` task (queued by name), which
    knows the settlement rates that say what the customer earns.
    """
    from programs.choices import EventStatus
    from programs.models import Dispatch, Event

    event = Event.objects.filter(utility_id=utility_id, pk=event_id).first()
    if event is None or event.status != EventStatus.SCHEDULED or event.is_test:
        return 0
    device_ids = (
        Dispatch.objects.filter(utility_id=utility_id, event=event)
        .exclude(setpoint_w=0)
        .values_list("device_id", flat=True)
    )
    enrollments = Enrollment.objects.filter(
        utility_id=utility_id, program_id=event.program_id, state=S.ACTIVE,
        device_id__in=list(device_ids),
    )  # fmt: skip
    queued = 0
    for enrollment in enrollments:
        with transaction.atomic():
            notice, created = EventNotice.objects.get_or_create(
                utility_id=utility_id,
                enrollment=enrollment,
                event=event,
                defaults={"device_id": enrollment.device_id},
            )
        if not created:
            continue
        notice_id = notice.pk
        transaction.on_commit(
            lambda notice_id=notice_id: current_app.send_task(
                "portal.event_notice", args=[notice_id], expires=24 * 3600
            )
        )
        queued += 1
    return queued


@transaction.atomic
def event_notice_opt_out(*, notice: EventNotice, now: datetime | None = None) -> EventNotice:
    """Opt the notice's battery out of its event, once: the email link's single use.

    Refused in words (ValidationError) when the link was used, the battery is no longer
    this enrollment's, the enrollment is not active, or the program's opt-out rules say no.
    """
    now = now or timezone.now()
    notice = (
        EventNotice.objects.select_for_update().select_related(*NOTICE_RELATED).get(pk=notice.pk)
    )
    if notice.used_at is not None:
        local = timezone.localtime(notice.used_at, ZoneInfo(notice.utility.timezone))
        raise ValidationError(
            f"This link was already used on {local:%a} {local.day} {local:%b %Y at %H:%M %Z}; "
            "your battery is opted out of this event."
        )
    enrollment = notice.enrollment
    if enrollment.device_id != notice.device_id:
        raise ValidationError(
            "The battery this email was about is no longer linked to your enrollment, so "
            "this link cannot opt anything out."
        )
    if enrollment.state != S.ACTIVE:
        raise ValidationError(
            f"Your enrollment is {enrollment.get_state_display().lower()}, so your battery "
            "does not take part in events."
        )
    program_services.opt_out_record(
        event=notice.event, device=notice.device, source="portal", now=now
    )
    notice.used_at = now
    notice.save(update_fields=["used_at"])
    local_start = timezone.localtime(notice.event.start, ZoneInfo(notice.utility.timezone))
    notify_on_commit(
        enrollment_id=enrollment.pk,
        kind="opt_out",
        event_start=f"{local_start:%Y-%m-%d %H:%M %Z}",
    )
    return notice


def enrollment_drafts_prune(*, older_than: timedelta = timedelta(days=30)) -> int:
    """Delete drafts nobody came back to (their cookie has expired too). Idempotent."""
    from enrollment.models import EnrollmentDraft

    deleted, _ = EnrollmentDraft.objects.filter(updated_at__lt=timezone.now() - older_than).delete()
    return deleted


INCENTIVE_FIELDS = (
    "upfront_per_kw",
    "upfront_cap",
    "participation_credit_per_kw",
    "credit_period",
    "clawback_months",
)


@transaction.atomic
def incentive_rates_set(*, program, actor, values: dict) -> IncentiveRates:
    """Set what `program` promises its customers, keeping the change in its history.
    Enrollments approved earlier keep the incentive fixed at their approval."""
    return program_services.program_rules_set(
        model=IncentiveRates,
        program=program,
        part=ProgramPart.INCENTIVES,
        fields=INCENTIVE_FIELDS,
        values=values,
        actor=actor,
    )
