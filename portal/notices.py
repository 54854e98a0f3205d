"""The event email: a customer hears that their battery is scheduled for an event, in
their utility's brand, with when (utility time, labelled), what the battery will do, what
they earn, and a signed one-click opt-out link.

It lives in the portal because it reads three rooms: the notice (enrollment), the event
(programs) and the rates that pay for delivery (settlement). A utility may override either
part with ``enrollment/email/<utility-slug>/event_scheduled.{txt,html}``.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import select_template
from django.urls import reverse
from django.utils import timezone

from enrollment.models import NOTICE_RELATED, EventNotice
from enrollment.opt_out_links import opt_out_token
from portal.brand import brand_palette
from programs.choices import EventKind, EventStatus
from programs.models import Dispatch
from programs.rules import opt_out_refusal, opt_outs_left
from settlement.models import SettlementRules
from settlement.rules import to_cents


@dataclass(frozen=True)
class EventFacts:
    """What the email says about the event, worked out once for both parts."""

    when: str
    ends: str
    tz_name: str
    minutes: int
    what: str
    setpoint_kw: float
    energy_kwh: Decimal
    event_pay: Decimal | None
    kwh_rate: Decimal | None
    kw_season_rate: Decimal | None
    participation: str
    opt_out_url: str
    opt_out_closes: str | None
    opt_outs_left: int | None
    opt_out_refusal: str | None


def _local(moment: datetime, tz: ZoneInfo) -> str:
    local = moment.astimezone(tz)
    return f"{local:%A} {local.day} {local:%B %Y, %H:%M} {local.tzname()}"


def _what(kind: str, kw: float, reserve_pct: int) -> str:
    if kind == EventKind.CHARGE:
        return f"charge at up to {kw:.1f} kW, storing energy while there is plenty of it"
    if kind == EventKind.EXPORT_LIMIT:
        return f"keep what your home sends to the grid to at most {kw:.1f} kW"
    if kind == EventKind.DISCHARGE:
        return (
            f"discharge at up to {kw:.1f} kW to power your home and the grid, keeping at "
            f"least {reserve_pct} % of its charge in reserve for you"
        )
    # Any other kind (a limit, a connection state, a power-quality mode, several at once)
    # asks for no energy: say so rather than describe a discharge.
    return (
        "follow the limits and settings the program sends it for the event; it is not asked "
        "to discharge"
    )


def event_facts(notice: EventNotice, *, now: datetime | None = None) -> EventFacts:
    now = now or timezone.now()
    event, program, utility = notice.event, notice.event.program, notice.utility
    tz = ZoneInfo(utility.timezone)
    dispatch = (
        Dispatch.objects.for_utility(utility).filter(event=event, device=notice.device).first()
    )
    setpoint_w = abs(dispatch.setpoint_w) if dispatch and dispatch.setpoint_w else 0
    kw = setpoint_w / 1000
    hours = Decimal(event.duration_s) / Decimal(3600)
    energy_kwh = (Decimal(setpoint_w) / Decimal(1000) * hours).quantize(Decimal("0.01"))
    rules = SettlementRules.objects.for_utility(utility).filter(program=program).first()
    kwh_rate = rules.kwh_rate if rules and rules.kwh_rate else None
    pay = None
    if kwh_rate is not None and event.kind == EventKind.DISCHARGE:
        pay = to_cents(energy_kwh * kwh_rate, rounding=rules.rounding)
    rates = getattr(program, "incentive_rates", None)
    participation = (
        f"${rates.participation_credit_per_kw} per kW "
        f"{rates.get_credit_period_display().lower()} for taking part"
        if rates is not None
        else ""
    )
    closes = None
    if program.opt_out_lock_min is not None:
        closes = _local(event.start - timedelta(minutes=program.opt_out_lock_min), tz)
    token = opt_out_token(notice=notice, expires_at=event.end)
    base = settings.PORTAL_BASE_URL.rstrip("/")
    return EventFacts(
        when=_local(event.start, tz),
        ends=f"{event.end.astimezone(tz):%H:%M} {event.end.astimezone(tz).tzname()}",
        tz_name=utility.timezone,
        minutes=event.duration_s // 60,
        what=_what(event.kind, kw, program.reserve_soc_pct),
        setpoint_kw=kw,
        energy_kwh=energy_kwh,
        event_pay=pay,
        kwh_rate=kwh_rate,
        kw_season_rate=rules.kw_season_rate if rules and rules.kw_season_rate else None,
        participation=participation,
        opt_out_url=f"{base}{reverse('enrollment:opt-out-link', args=[token])}",
        opt_out_closes=closes,
        opt_outs_left=opt_outs_left(
            program=program, device=notice.device, year=event.start.astimezone(tz).year
        ),
        opt_out_refusal=opt_out_refusal(event=event, device=notice.device, now=now),
    )


def render_event_notice(notice: EventNotice) -> tuple[str, str, str]:
    """Subject, text body and HTML body of a notice's email."""
    utility = notice.utility
    facts = event_facts(notice)
    base = settings.PORTAL_BASE_URL.rstrip("/")
    context = {
        "utility": utility,
        "program": notice.event.program,
        "event": notice.event,
        "enrollment": notice.enrollment,
        "facts": facts,
        "palette": brand_palette(utility.brand_colour),
        "logo_url": (
            f"{base}{reverse('portal:brand-logo', args=[utility.slug])}" if utility.logo else ""
        ),
        "account_url": f"{base}{reverse('enrollment:my')}",
    }
    names = [f"enrollment/email/{utility.slug}/event_scheduled", "enrollment/email/event_scheduled"]
    text = select_template([f"{n}.txt" for n in names]).render(context)
    html = select_template([f"{n}.html" for n in names]).render(context)
    subject, _, body = text.strip().partition("\n")
    return subject.strip(), body.strip() + "\n", html


def event_notice_send(*, notice_id: int) -> bool:
    """Send a notice's email once (idempotent: a second run of the task sends nothing)."""
    notice = EventNotice.objects.select_related(*NOTICE_RELATED).filter(pk=notice_id).first()
    if notice is None or notice.sent_at is not None or not notice.enrollment.email:
        return False
    if notice.event.status != EventStatus.SCHEDULED:
        return False  # cancelled or started before the worker got to it
    subject, text, html = render_event_notice(notice)
    message = EmailMultiAlternatives(
        subject,
        text,
        f"{notice.utility.display_name} <{settings.CUSTOMER_FROM_ADDRESS}>",
        [notice.enrollment.email],
    )
    message.attach_alternative(html, "text/html")
    # Mark first: a worker dying after the send may not send twice (at most once).
    updated = EventNotice.objects.filter(pk=notice.pk, sent_at__isnull=True).update(
        sent_at=timezone.now()
    )
    if not updated:
        return False
    message.send()
    return True
