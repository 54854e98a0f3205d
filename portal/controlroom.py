"""The control room: one live screen per utility, or per program, for an event afternoon."""

from datetime import UTC, datetime, timedelta

from django.db.models import Count, Q, Sum
from django.db.models.functions import Substr
from django.http import Http404, JsonResponse
from django.utils import timezone
from django.views import View
from django.views.generic import TemplateView

from devices.selectors import device_stale_after, fleet_power_series
from portal.live import event_snapshot, fleet_devices, fleet_snapshot
from portal.models import Alert, AlertStatus
from portal.views import AlertActionView
from programs.choices import EventStatus
from programs.forms import controls_summary
from programs.models import Event, Program
from tenancy.mixins import UtilityMemberMixin
from tenancy.selectors import get_for_utility

HISTORY = timedelta(hours=6)


def _program(request):
    program_id = request.GET.get("program")
    if not program_id:
        return None
    if not program_id.isdigit():
        raise Http404("No program matches.")
    return get_for_utility(Program.objects.all(), utility=request.utility, pk=int(program_id))


def regions(*, devices, now) -> list[dict]:
    """Devices grouped by the first three ZIP digits: a map without tile servers."""
    fresh = Q(last_heard_at__gt=now - device_stale_after())
    rows = (
        devices.exclude(zip_code="")
        .annotate(zip3=Substr("zip_code", 1, 3))
        .values("zip3")
        .annotate(
            devices=Count("pk"),
            online=Count("pk", filter=fresh),
            power_w=Sum("power_w", filter=fresh),
        )
        .order_by("zip3")
    )
    return [
        {
            **row,
            "power_w": round(row["power_w"] or 0),
            "online_pct": round(100 * row["online"] / row["devices"]) if row["devices"] else 0,
        }
        for row in rows[:400]
    ]


def control_room_data(*, utility, program, now, since=None) -> dict:
    """Everything the page shows; also what a reconnecting page fetches to catch up."""
    since = since or now - HISTORY
    events = Event.objects.select_related("group", "program").for_utility(utility)
    if program is not None:
        events = events.filter(program=program)
    active = list(events.filter(status=EventStatus.ACTIVE).order_by("start"))
    upcoming = list(
        events.filter(status=EventStatus.SCHEDULED, start__gt=now).order_by("start")[:5]
    )
    series = fleet_power_series(utility=utility, since=since, until=now + timedelta(minutes=5))
    return {
        "fleet": fleet_snapshot(utility=utility, program=program, now=now),
        "history": [{"t": p.bucket_start.timestamp(), "w": p.power_w} for p in series],
        "active": [
            {
                **event_snapshot(event=e, now=now),
                "label": _label(e),
                "start": e.start.timestamp(),
                "end": e.end.timestamp(),
            }
            for e in active
        ],
        "upcoming": [
            {
                "event": e.pk,
                "label": _label(e),
                "start": e.start.timestamp(),
                "target_w": e.signed_target_w,
            }
            for e in upcoming
        ],
        "regions": regions(devices=fleet_devices(utility=utility, program=program), now=now),
    }


def _label(event: Event) -> str:
    """ "Connect or disconnect · Oregon (Connection disconnect)": the kind, group and modes."""
    modes = controls_summary(event)
    return f"{event.get_kind_display()} · {event.group.name}" + (f" ({modes})" if modes else "")


class ControlRoomView(UtilityMemberMixin, TemplateView):
    template_name = "portal/control_room.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        program = _program(self.request)
        now = timezone.now()
        context.update(
            alerts=Alert.objects.all()
            .for_utility(self.request.utility)
            .exclude(status=AlertStatus.RESOLVED)[:20],
            program=program,
            programs=Program.objects.all().for_utility(self.request.utility),
            data=control_room_data(utility=self.request.utility, program=program, now=now),
            topic=f"program.{program.pk}" if program else "fleet",
            alert_verbs=tuple(AlertActionView.actions),
        )
        return context


class ControlRoomDataView(UtilityMemberMixin, View):
    """JSON for catching up after a reconnect (``since`` is a Unix time)."""

    def get(self, request):
        now = timezone.now()
        since = None
        if raw := request.GET.get("since"):
            try:
                since = max(datetime.fromtimestamp(float(raw), tz=UTC), now - HISTORY)
            except (ValueError, OverflowError, OSError):
                return JsonResponse({"error": "since must be a Unix time"}, status=400)
        data = control_room_data(
            utility=request.utility, program=_program(request), now=now, since=since
        )
        return JsonResponse(data)
