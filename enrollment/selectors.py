"""Reads for enrollment: the review queue, the funnel, and a customer's own view."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Exists, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from devices.selectors import device_health
from enrollment.choices import FUNNEL_STATES, EnrollmentState
from enrollment.models import Customer, EligibilityResult, Enrollment, EnrollmentTransition
from programs.choices import FINAL_STATUSES
from programs.models import Dispatch
from programs.rules import opt_out_refusal

NEXT_STEP = {
    EnrollmentState.SUBMITTED: "We are checking your eligibility.",
    EnrollmentState.ELIGIBLE: "You are eligible. A program manager will review your application, "
    "usually within a few business days.",
    EnrollmentState.INELIGIBLE: "Your application cannot be accepted as it stands: see the reason "
    "below. You may apply again if something changes.",
    EnrollmentState.APPROVED: "Approved. Next: connect your battery to the internet through its "
    "vendor app so that we receive its readings.",
    EnrollmentState.DEVICE_LINKED: "We found your battery. Next: we wait for a fresh reading from "
    "it to verify it works.",
    EnrollmentState.TELEMETRY_VERIFIED: "Readings verified; your enrollment is being activated.",
    EnrollmentState.ACTIVE: "Active: your battery takes part in program events. Nothing to do.",
    EnrollmentState.REJECTED: "Your application was not accepted: see the reason below.",
    EnrollmentState.WITHDRAWN: "You withdrew from the program.",
    EnrollmentState.TERMINATED: "The program ended this enrollment: see the reason below.",
}


MAX_ID = 2**63 - 1


def as_id(text) -> int | None:
    """A database id from user input, or None: non-digits and absurd numbers are no id."""
    text = str(text or "").strip()
    if not text.isdigit() or len(text) > 19:
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None


def enrollment_queue_rows(*, utility):
    """The utility's enrollments with what a queue row shows, ``failed_rules`` included.

    The count of failed rules is a correlated subquery rather than a join and GROUP BY, so
    the paginator's COUNT stays a plain index count at 100,000 enrollments.
    """
    failed = (
        EligibilityResult.objects.filter(enrollment=OuterRef("pk"), passed=False)
        .order_by()
        .values("enrollment")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        Enrollment.objects.for_utility(utility)
        .select_related("program", "customer", "device")
        .annotate(failed_rules=Coalesce(Subquery(failed, output_field=IntegerField()), 0))
    )


def enrollment_eligibility_filter(queryset, *, utility_id: int, eligibility: str):
    """``passed``: rules checked and none failed; ``failed``: a rule failed; else unchanged."""
    has_fail = Exists(EligibilityResult.objects.filter(enrollment=OuterRef("pk"), passed=False))
    has_any = Exists(EligibilityResult.objects.filter(enrollment=OuterRef("pk")))
    if eligibility == "passed":
        return queryset.filter(has_any).exclude(has_fail)
    if eligibility == "failed":
        # An id list from the results table counts faster than a per-row EXISTS.
        failed = EligibilityResult.objects.filter(utility_id=utility_id, passed=False)
        return queryset.filter(pk__in=failed.values("enrollment_id"))
    return queryset


def enrollment_search_q(term: str) -> Q:
    """The queue's search box: address, account, serial, email, customer name or #id."""
    match = (
        Q(street__icontains=term)
        | Q(city__icontains=term)
        | Q(account_number__icontains=term)
        | Q(serial__icontains=term)
        | Q(email__icontains=term)
        | Q(customer__name__icontains=term)
    )
    if (pk := as_id(term)) is not None:
        match |= Q(pk=pk)
    return match


def customers_enrolled(*, utility):
    """The utility's customers who have enrolled, with their enrollment counts (one query).

    Counts are correlated subqueries, so paging and counting never join the enrollments.
    """

    def count(**filters):
        rows = (
            Enrollment.objects.filter(customer=OuterRef("pk"), **filters)
            .order_by()
            .values("customer")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return Coalesce(Subquery(rows, output_field=IntegerField()), 0)

    return (
        Customer.objects.for_utility(utility)
        .filter(Exists(Enrollment.objects.filter(customer=OuterRef("pk"), utility=utility)))
        .select_related("user")
        .annotate(enrollment_count=count(), active_count=count(state=EnrollmentState.ACTIVE))
    )


def customer_in_program_filter(queryset, *, program_id: int):
    """Customers with an enrollment in one program."""
    return queryset.filter(
        Exists(Enrollment.objects.filter(customer=OuterRef("pk"), program_id=program_id))
    )


def customer_active_filter(queryset, *, active: bool):
    """Customers with (or without) an active enrollment."""
    has_active = Exists(
        Enrollment.objects.filter(customer=OuterRef("pk"), state=EnrollmentState.ACTIVE)
    )
    return queryset.filter(has_active) if active else queryset.exclude(has_active)


@dataclass(frozen=True)
class FunnelStage:
    state: str
    label: str
    count: int
    pct: float


def enrollment_funnel(*, utility, since: datetime | None = None, program_id=None):
    """How many enrollments of the season reached each stage, submitted → active."""
    now = timezone.now()
    since = since or now.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    transitions = EnrollmentTransition.objects.for_utility(utility).filter(
        enrollment__submitted_at__gte=since
    )
    if program_id:
        transitions = transitions.filter(enrollment__program_id=program_id)
    reached = dict(
        transitions.filter(to_state__in=FUNNEL_STATES)
        .values_list("to_state")
        .annotate(n=Count("enrollment", distinct=True))
    )
    top = reached.get(EnrollmentState.SUBMITTED, 0) or 1
    return [
        FunnelStage(s, EnrollmentState(s).label, reached.get(s, 0), 100 * reached.get(s, 0) / top)
        for s in FUNNEL_STATES
    ]


def telemetry_flags(*, enrollment: Enrollment, now: datetime | None = None) -> dict:
    """Freshness facts about the linked device, for the review detail page."""
    from enrollment.services import telemetry_check

    device = enrollment.device
    if device is None:
        return {}
    now = now or timezone.now()
    check = telemetry_check(enrollment=enrollment, device=device, now=now)
    return {
        "health": device_health(device=device, now=now),
        "fresh": check.fresh,
        "plausible": check.plausible,
        "reason": check.reason,
    }


def customer_enrollments(*, customer):
    return (
        Enrollment.objects.for_utility(customer.utility)
        .filter(customer=customer)
        .select_related("program", "device", "program__incentive_rates")
        .prefetch_related("eligibility_results")
    )


def customer_events(*, enrollment: Enrollment, now: datetime | None = None):
    """The device's dispatches: upcoming first, then past ones, with whether it opted out."""
    if enrollment.device_id is None:
        return [], []
    now = now or timezone.now()
    dispatches = list(
        Dispatch.objects.for_utility(enrollment.utility)
        .filter(device_id=enrollment.device_id, event__program=enrollment.program)
        .select_related("event")
        .order_by("-event__start")[:50]
    )
    opted = set(
        enrollment.device.opt_outs.filter(
            event_id__in=[d.event_id for d in dispatches]
        ).values_list("event_id", flat=True)
    )
    upcoming, past = [], []
    for d in dispatches:
        event = d.event
        live = event.status not in FINAL_STATUSES and event.end > now
        refusal = (
            opt_out_refusal(event=event, device=enrollment.device, now=now)
            if live and event.pk not in opted
            else None
        )
        row = {
            "event": event,
            "opted_out": event.pk in opted,
            "can_opt_out": live and event.pk not in opted and refusal is None,
            "opt_out_refusal": refusal if live and event.pk not in opted else None,
        }
        (upcoming if event.end > now and event.status not in FINAL_STATUSES else past).append(row)
    upcoming.reverse()
    return upcoming, past


def _money(amount) -> str:
    return f"${amount:,.2f}".replace(".00", "")


def _clock(t) -> str:
    return t.strftime("%-I %p").lower() if t.minute == 0 else t.strftime("%-I:%M %p").lower()


def program_terms_rules(*, program) -> list[str]:
    """The customer-facing clauses that restate the program's rules, written *from* the
    rules (caps, seasons, durations, window, reserve, incentives) so that what customers
    read cannot drift from what the program enforces."""
    utility = program.utility.display_name
    seasons = [s for s in program.seasons.all() if s.max_events is not None]
    clauses = []
    limits = []
    if program.max_events_per_year is not None:
        limits.append(f"up to {program.max_events_per_year} events a year")
    if seasons:
        limits.append(
            "at most " + ", ".join(f"{s.max_events} in {s.name.lower()}" for s in seasons)
        )
    if program.max_events_per_day:
        plural = "s" if program.max_events_per_day != 1 else ""
        limits.append(f"no more than {program.max_events_per_day} event{plural} a day")
    hours, minutes = divmod(program.max_duration_min, 60)
    longest = f"{hours} hour{'s' if hours != 1 else ''}" if hours and not minutes else (
        f"{program.max_duration_min} minutes")  # fmt: skip
    window = (
        f", between {_clock(program.window_start)} and {_clock(program.window_end)} "
        f"({program.utility.timezone} time)"
        if program.window_start and program.window_end
        else ""
    )
    clauses.append(
        f"You let {utility} discharge your enrolled battery during "
        + ("; ".join(limits) or "its events")
        + f", each up to {longest}{window}."
    )
    clauses.append(
        f"Your battery keeps at least {program.reserve_soc_pct} % of its charge for your "
        "own backup."
    )
    if program.min_notice_min:
        clauses.append(f"Events are announced at least {program.min_notice_min} minutes ahead.")
    rates = getattr(program, "incentive_rates", None)
    if rates is not None:
        clauses.append(
            f"The upfront incentive is {_money(rates.upfront_per_kw)} per kW of battery "
            f"discharge rating, up to {_money(rates.upfront_cap)}, paid once after activation."
            + (
                f" If you leave within {rates.clawback_months} months it is repaid pro rata."
                if rates.clawback_months
                else ""
            )
        )
        period = "a year" if rates.credit_period == "annual" else "a month"
        clauses.append(
            f"You earn a participation credit of {_money(rates.participation_credit_per_kw)} "
            f"per kW {period} while active."
        )
    return clauses
