"""Program managers' pages: programs and their rules, the event calendar, new events, events."""

import calendar
from collections.abc import Collection
from datetime import date
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.generic import CreateView, DetailView, ListView, UpdateView

from devices.selectors import device_stale_after
from programs import services
from programs.choices import (
    LIVE_STATUSES,
    CurveType,
    EventKind,
    EventPurpose,
    EventStatus,
    ProgramPart,
    ProgramStatus,
    RequirementProfile,
    UnitRefType,
)
from programs.forms import (
    AttachDeviceForm,
    BlackoutDateForm,
    CurveForm,
    DefaultControlForm,
    DispatchGroupForm,
    EventForm,
    ProgramForm,
    QualifiedEquipmentForm,
    SeasonForm,
    default_start,
    kind_rule_notes,
)
from programs.models import Curve, DispatchGroup, DispatchGroupMember, Event, Program
from programs.rules import event_rule_check
from programs.selectors import (
    capacity_forecast,
    dispatch_participation,
    event_dispatches,
    event_funnel,
    event_power_series,
    events_in_month,
    season_usage,
    site_envelopes,
)
from programs.services import program_change_record, rule_values
from tenancy.choices import Role
from tenancy.exports import SpreadsheetCsvWriter
from tenancy.lists import BooleanFilter, ChoiceFilter, ForeignKeyFilter, ListPageMixin
from tenancy.mixins import UtilityDownloadMixin, UtilityMemberMixin, UtilityScopedMixin
from tenancy.resolution import MemberRequest
from tenancy.selectors import get_for_utility

MANAGERS: Collection[str] = {Role.PROGRAM_MANAGER}
DISPATCHERS: Collection[str] = {Role.PROGRAM_MANAGER, Role.OPERATOR}


class ProgramListView(ListPageMixin, UtilityScopedMixin, ListView):
    model = Program
    template_name = "programs/program_list.html"
    search_fields = ("name",)
    search_placeholder = "Program name"
    filters = (
        ChoiceFilter("status", "Status", options=ProgramStatus.choices),
        ChoiceFilter("profile", "Profile", options=RequirementProfile.choices),
        # Real programs by default; vendors' sandboxes are listed apart below them.
        BooleanFilter(
            "sandbox",
            "Sandbox",
            field="is_sandbox",
            yes_label="Sandboxes only",
            no_label="Real programs only",
            any_label="Real programs and sandboxes",
            default="no",
        ),
    )
    ordering = ("name", "pk")
    list_noun = "programs"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        if self.get_list_params().get("sandbox") is False:
            sandboxes = self.get_base_queryset().sandboxes().order_by("name", "pk")
            context["sandboxes"] = sandboxes[:50]
            context["sandbox_count"] = sandboxes.count()
        return context


class EventListView(ListPageMixin, UtilityScopedMixin, ListView):
    """Every event of the utility, newest first, beside the month calendar."""

    model = Event
    template_name = "programs/event_list.html"
    context_object_name = "events"
    search_fields = ("program__name", "group__name", "=mrid")
    search_placeholder = "Program, group or mRID"
    filters = (
        ForeignKeyFilter("program", "Program", field="program_id", model=Program),
        ChoiceFilter("status", "Status", options=EventStatus.choices),
        ChoiceFilter("kind", "Kind", options=EventKind.choices),
        ChoiceFilter("purpose", "Purpose", options=EventPurpose.choices),
        BooleanFilter(
            "test", "Test events", field="is_test", yes_label="Tests only", no_label="No tests"
        ),
    )
    ordering = ("-start", "-pk")
    list_noun = "events"

    def get_queryset(self):
        return super().get_queryset().select_related("program", "group")


class ProgramFormMixin:
    # Typed as the generic views declare them, which the create and update views combine.
    model = Program
    form_class: type[ProgramForm] | None = ProgramForm
    allowed_roles = MANAGERS  # a form page: only those who may submit it open it
    write_roles = MANAGERS
    template_name: str | None = "programs/program_form.html"

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "utility": self.request.utility}

    def get_success_url(self):
        return reverse("programs:program-detail", args=[self.object.pk])

    def form_valid(self, form):
        form.instance.utility = self.request.utility
        fields = list(form.changed_data)
        before = {}
        if form.instance.pk:
            before = rule_values(Program.objects.get(pk=form.instance.pk), fields)
        response = super().form_valid(form)
        if before:
            program_change_record(
                program=self.object,
                part=ProgramPart.RULES,
                before=before,
                after=rule_values(self.object, fields),
                actor=self.request.user,
            )
        messages.success(self.request, f"Program “{form.instance.name}” saved.")
        return response


class ProgramCreateView(ProgramFormMixin, UtilityScopedMixin, CreateView):
    pass


class ProgramUpdateView(ProgramFormMixin, UtilityScopedMixin, UpdateView):
    pass


class ProgramDetailView(UtilityScopedMixin, DetailView):
    """A program's rules, its season usage meter, groups, equipment and upcoming events."""

    model = Program
    template_name = "programs/program_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        program = self.object
        context.update(
            usage=season_usage(program=program),
            groups=program.groups.all(),
            curves=program.curves.all(),
            equipment=program.equipment.all(),
            seasons=program.seasons.all(),
            blackouts=program.blackouts.filter(date__gte=timezone.localdate()),
            upcoming=program.events.filter(status__in=LIVE_STATUSES).select_related("group")[:10],
            season_form=SeasonForm(),
            blackout_form=BlackoutDateForm(),
            equipment_form=QualifiedEquipmentForm(),
            group_form=DispatchGroupForm(),
        )
        return context


class ProgramPartAddView(UtilityMemberMixin, View):
    """Add a season, blackout day, qualified model or dispatch group to a program."""

    model = Program
    write_roles = MANAGERS
    forms = {
        "season": SeasonForm,
        "blackout": BlackoutDateForm,
        "equipment": QualifiedEquipmentForm,
        "group": DispatchGroupForm,
    }

    def post(self, request: MemberRequest, pk: int, part: str) -> HttpResponse:
        program = get_for_utility(Program.objects.all(), utility=request.utility, pk=pk)
        form_class = self.forms.get(part)
        if form_class is None:
            raise PermissionDenied("Unknown program part.")
        form = form_class(request.POST)
        form.instance.utility = request.utility
        form.instance.program = program
        if form.is_valid():
            try:
                form.instance.full_clean()
                form.save()
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                messages.success(request, f"Added {form.instance}.")
        else:
            errors = "; ".join(
                f"{field}: {' '.join(map(str, errs))}"
                if field != "__all__"
                else " ".join(map(str, errs))
                for field, errs in form.errors.items()
            )
            messages.error(request, f"Not added. {errors}")
        return redirect("programs:program-detail", pk=program.pk)


class EventCalendarView(UtilityMemberMixin, View):
    """A month of events in the utility's local time, with the list below."""

    def get(self, request: MemberRequest) -> HttpResponse:
        tz = ZoneInfo(request.utility.timezone)
        today = timezone.now().astimezone(tz).date()
        try:
            year, month = (int(x) for x in request.GET.get("month", "").split("-"))
            date(year, month, 1)
        except ValueError:
            year, month = today.year, today.month
        events = list(events_in_month(utility=request.utility, year=year, month=month, tz=tz))
        by_day: dict[int, list[Event]] = {}
        for event in events:
            by_day.setdefault(event.start.astimezone(tz).day, []).append(event)
        weeks = [
            [(day, by_day.get(day, [])) if day else (None, []) for day in week]
            for week in calendar.Calendar().monthdayscalendar(year, month)
        ]
        prev_month = (year - 1, 12) if month == 1 else (year, month - 1)
        next_month = (year + 1, 1) if month == 12 else (year, month + 1)
        return render(
            request,
            "programs/event_calendar.html",
            {
                "weeks": weeks,
                "title": date(year, month, 1).strftime("%B %Y"),
                "prev": f"{prev_month[0]}-{prev_month[1]:02d}",
                "next": f"{next_month[0]}-{next_month[1]:02d}",
                "events": events,
                "today": today if (today.year, today.month) == (year, month) else None,
            },
        )


class EventCreateView(UtilityMemberMixin, View):
    """The new-event form. htmx posts to ``?check=1`` show the forecast and rule check live."""

    allowed_roles = DISPATCHERS  # a form page: only those who may submit it open it
    write_roles = DISPATCHERS

    def get(self, request: MemberRequest) -> HttpResponse:
        initial = {"start_local": default_start(request.utility), "duration_min": 60}
        if group := request.GET.get("group"):
            initial["group"] = group
        form = EventForm(utility=request.utility, initial=initial)
        return render(request, "programs/event_form.html", {"form": form, **self._may(request)})

    def post(self, request: MemberRequest) -> HttpResponse:
        form = EventForm(request.POST, utility=request.utility)
        if request.GET.get("check"):
            return render(request, "programs/_event_check.html", self._check(form))
        if form.is_valid():
            try:
                event = services.event_create(actor=request.user, **form.service_kwargs())
            except services.EventRuleError as refused:
                return render(
                    request,
                    "programs/event_form.html",
                    {
                        "form": form,
                        "violations": refused.violations,
                        **self._check(form),
                        **self._may(request),
                    },
                )
            except PermissionDenied as exc:
                form.add_error("emergency_override", str(exc))
            except ValidationError as exc:
                if hasattr(exc, "error_dict"):
                    for field, errors in exc.message_dict.items():
                        for message in errors:
                            form.add_controls_error(field, message)
                else:
                    form.add_error(None, exc)
            else:
                messages.success(request, f"Event scheduled: {event}.")
                return redirect("programs:event-detail", pk=event.pk)
        return render(
            request,
            "programs/event_form.html",
            {"form": form, **self._check(form), **self._may(request)},
        )

    def _may(self, request: MemberRequest) -> dict:
        # The service decides who may override the rules; the form shows its fields to them.
        return {
            "may_override": services.event_override_permitted(
                actor=request.user, utility=request.utility
            )
        }

    def _rule_notes(self, form) -> list[str]:
        # Known as soon as the group and kind are, whatever else the form still lacks.
        group, kind = form.cleaned_data.get("group"), form.cleaned_data.get("kind")
        return kind_rule_notes(group.program, kind) if group and kind else []

    def _check(self, form) -> dict:
        if not form.is_valid():
            return {"checked": False, "rule_notes": self._rule_notes(form)}
        kwargs = form.service_kwargs()
        violations = event_rule_check(
            program=kwargs["program"],
            group_id=kwargs["group"].pk,
            start=kwargs["start"],
            duration_s=kwargs["duration_s"],
            now=timezone.now(),
            is_test=kwargs["is_test"],
        )
        forecast = capacity_forecast(group=kwargs["group"], duration_s=kwargs["duration_s"])
        return {
            "checked": True,
            "violations": violations,
            "forecast": forecast,
            "target_w": kwargs["target_w"],
            "rule_notes": self._rule_notes(form),
        }


class EventDetailView(UtilityScopedMixin, DetailView):
    """One event: status, response funnel, requested versus delivered, and its audit trail."""

    model = Event
    template_name = "programs/event_detail.html"

    def get_queryset(self):
        return super().get_queryset().select_related("program", "group", "created_by")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        event = self.object
        dispatches = event_dispatches(event=event).select_related("device")
        page = Paginator(dispatches, 50).get_page(self.request.GET.get("page"))
        now = timezone.now()
        for dispatch in page:
            dispatch.participation = dispatch_participation(dispatch=dispatch, event=event, now=now)
        context.update(
            funnel=event_funnel(event=event, now=now),
            transitions=event.transitions.select_related("actor"),
            dispatch_page=page,
            fresh_after=timezone.now() - device_stale_after(),
            series=event_power_series(event=event),
            requested_w=sum(d.setpoint_w for d in dispatches) or event.signed_target_w,
            can_cancel=event.status in LIVE_STATUSES
            and EventCancelView.permits(self.request, "POST"),
        )
        return context


class EventDevicesCsvView(UtilityDownloadMixin, View):
    """The event's device table as CSV, in the same participation vocabulary as its page."""

    model = Event

    def get(self, request: MemberRequest, pk: int) -> HttpResponse:
        event = get_for_utility(Event.objects.all(), utility=request.utility, pk=pk)
        tz = timezone.get_current_timezone()
        now = timezone.now()
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="event-{event.pk}-devices.csv"'
        writer = SpreadsheetCsvWriter(response)
        writer.writerow(
            ["device", "serial", "setpoint_w", "committed_w", "participation",
             "participation_label", "last_response_code", f"last_response_at ({tz.key})"]
        )  # fmt: skip
        rows = event_dispatches(event=event).select_related("device")
        for d in rows.iterator(chunk_size=2000):
            state = dispatch_participation(dispatch=d, event=event, now=now)
            at = d.last_response_at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S") if (
                d.last_response_at) else ""  # fmt: skip
            writer.writerow(
                [d.device_id, d.device.serial, d.setpoint_w, d.committed_w, state.value,
                 state.label, d.last_response, at]
            )  # fmt: skip
        return response


class EventCancelView(UtilityMemberMixin, View):
    model = Event
    write_roles = DISPATCHERS

    def post(self, request: MemberRequest, pk: int) -> HttpResponse:
        event = get_for_utility(Event.objects.all(), utility=request.utility, pk=pk)
        reason = request.POST.get("reason", "")[:500]
        try:
            services.event_cancel(event=event, actor=request.user, reason=reason)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, "Event cancelled. Clients see it as cancelled at once.")
        return redirect("programs:event-detail", pk=event.pk)


class DispatchGroupUpdateView(UtilityScopedMixin, UpdateView):
    model = DispatchGroup
    form_class = DispatchGroupForm
    write_roles = MANAGERS
    template_name = "programs/group_form.html"

    def get_success_url(self):
        return reverse("programs:program-detail", args=[self.object.program_id])

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["forecast"] = capacity_forecast(group=self.object, duration_s=3600)
        context["attach_form"] = AttachDeviceForm()
        context["attached"] = (
            DispatchGroupMember.objects.for_utility(self.object.utility)
            .filter(group=self.object)
            .select_related("device")
        )
        return context


class DispatchGroupAttachDeviceView(UtilityMemberMixin, View):
    """Attach a registered device to the group by its LFDI or SFDI."""

    model = DispatchGroup
    write_roles = MANAGERS

    def post(self, request: MemberRequest, pk: int) -> HttpResponse:
        group = get_for_utility(DispatchGroup.objects.all(), utility=request.utility, pk=pk)
        form = AttachDeviceForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Enter the device's LFDI or SFDI.")
            return redirect("programs:group-update", pk=group.pk)
        try:
            device = services.dispatch_group_attach_device(
                group=group, identity=form.cleaned_data["identity"], actor=request.user
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"Attached {device} to {group.name}.")
        return redirect("programs:group-update", pk=group.pk)


class DefaultControlView(UtilityMemberMixin, View):
    """A dispatch group's DefaultDERControl: what its DERs do when no event is active.
    Program managers see, set and clear it; setting replaces every mode and setting."""

    model = DispatchGroup
    allowed_roles = MANAGERS
    write_roles = MANAGERS

    def get(self, request: MemberRequest, pk: int) -> HttpResponse:
        group = self._group(request, pk)
        return self._render(request, group, DefaultControlForm(group=group))

    def post(self, request: MemberRequest, pk: int) -> HttpResponse:
        group = self._group(request, pk)
        form = DefaultControlForm(request.POST, group=group)
        if form.is_valid():
            try:
                services.default_control_set(group=group, actor=request.user, values=form.values)
            except ValidationError as exc:
                if hasattr(exc, "error_dict"):
                    for field, errors in exc.message_dict.items():
                        for message in errors:
                            form.add_error_on(field, message)
                else:
                    form.add_error(None, exc)
            else:
                messages.success(request, f"Default control of {group.name} saved.")
                return redirect("programs:group-default-control", pk=group.pk)
        return self._render(request, group, form, status=400)

    def _group(self, request: MemberRequest, pk: int) -> DispatchGroup:
        return get_for_utility(
            DispatchGroup.objects.select_related("program", "default_control"),
            utility=request.utility,
            pk=pk,
        )

    def _render(self, request, group, form, status=200) -> HttpResponse:
        current = getattr(group, "default_control", None)
        return render(
            request,
            "programs/default_control.html",
            {"group": group, "form": form, "current": current},
            status=status,
        )


class DefaultControlClearView(UtilityMemberMixin, View):
    model = DispatchGroup
    allowed_roles = MANAGERS
    write_roles = MANAGERS

    def post(self, request: MemberRequest, pk: int) -> HttpResponse:
        group = get_for_utility(DispatchGroup.objects.all(), utility=request.utility, pk=pk)
        if services.default_control_clear(group=group, actor=request.user):
            messages.success(request, f"Default control of {group.name} cleared.")
        else:
            messages.info(request, f"{group.name} had no default control.")
        return redirect("programs:group-default-control", pk=group.pk)


# What a curve's axes mean, by its type (IEEE 2030.5 DERCurveType).
_VOLTAGE = "Voltage, % of nominal"
_TIME = "Time, s"
CURVE_AXES: dict[int, tuple[str, str]] = {
    CurveType.VOLT_VAR: (_VOLTAGE, "Reactive power"),
    CurveType.VOLT_WATT: (_VOLTAGE, "Active power"),
    CurveType.FREQ_WATT: ("Frequency, Hz", "Active power"),
    CurveType.WATT_PF: ("Active power, % of setMaxW", "Power factor"),
    CurveType.WATT_VAR: ("Active power, % of setMaxW", "Reactive power"),
    **{t: (_TIME, "Voltage") for t in CurveType if t.name.startswith(("HVRT", "LVRT"))},
    **{t: (_TIME, "Frequency, Hz") for t in CurveType if t.name.startswith(("HFRT", "LFRT"))},
}


def curve_chart(curve: Curve) -> dict:
    """What the curve chart draws: the points in real units (each value times 10 to its
    axis' multiplier) and the axes' labels."""
    x_label, y_label = CURVE_AXES.get(curve.curve_type, ("x", "y"))
    if curve.y_ref_type not in (None, UnitRefType.NA):
        y_label = f"{y_label}, {UnitRefType(curve.y_ref_type).label}"
    return {
        "x_label": x_label,
        "y_label": y_label,
        "axes": {str(t): list(labels) for t, labels in CURVE_AXES.items()},
        "x_multiplier": curve.x_multiplier,
        "y_multiplier": curve.y_multiplier,
        "points": [
            [p["x"] * 10**curve.x_multiplier, p["y"] * 10**curve.y_multiplier]
            for p in curve.points or []
            if isinstance(p, dict) and "x" in p and "y" in p
        ],
    }


class CurveFormMixin:
    # Typed as the generic views declare them, which the create and update views combine.
    form_class: type[CurveForm] | None = CurveForm
    template_name: str | None = "programs/curve_form.html"

    def save_curve(self, form):
        try:
            curve = services.curve_save(curve=form.instance)
        except ValidationError as exc:
            form.add_error(None, exc)
            return self.render_to_response(self.get_context_data(form=form))
        messages.success(self.request, f"Curve “{curve}” saved. Clients see it at their next poll.")
        return redirect("programs:curve-update", pk=curve.pk)


class CurveCreateView(CurveFormMixin, UtilityMemberMixin, CreateView):
    """A new DERCurve for the program named by `pk`."""

    model = Program  # the URL names the program; the isolation sweep checks it
    allowed_roles = MANAGERS  # a form page: only those who may submit it open it
    write_roles = MANAGERS

    def program(self) -> Program:
        return get_for_utility(
            Program.objects.all(), utility=self.request.utility, pk=self.kwargs["pk"]
        )

    def get_form_kwargs(self):
        program = self.program()
        kwargs = super().get_form_kwargs()
        kwargs["instance"] = Curve(utility=self.request.utility, program=program)
        return kwargs

    def get_context_data(self, **kwargs):
        form = kwargs.setdefault("form", self.get_form())
        return super().get_context_data(
            program=form.instance.program, chart=curve_chart(form.instance), **kwargs
        )

    def form_valid(self, form):
        return self.save_curve(form)


class CurveUpdateView(CurveFormMixin, UtilityScopedMixin, UpdateView):
    """A curve's page: its chart, what links it, and (for managers) its form."""

    model = Curve
    write_roles = MANAGERS

    def get_queryset(self):
        return super().get_queryset().select_related("program")

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            program=self.object.program,
            chart=curve_chart(self.object),
            linked_by=self.object.linked_by(),
            **kwargs,
        )

    def form_valid(self, form):
        return self.save_curve(form)


class CurveDeleteView(UtilityMemberMixin, View):
    model = Curve
    write_roles = MANAGERS

    def post(self, request: MemberRequest, pk: int) -> HttpResponse:
        curve = get_for_utility(Curve.objects.all(), utility=request.utility, pk=pk)
        try:
            services.curve_delete(curve=curve)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("programs:curve-update", pk=curve.pk)
        messages.success(request, f"Curve “{curve}” deleted.")
        return redirect("programs:program-detail", pk=curve.program_id)


class SiteEnvelopeListView(ListPageMixin, UtilityMemberMixin, ListView):
    """A program's site envelopes (CSIP-AUS dynamic operating envelopes), by NMI and start;
    for one NMI, a chart of its limits over time."""

    model = Program  # the URL names the program; the isolation sweep checks it
    template_name = "programs/site_envelope_list.html"
    context_object_name = "envelopes"
    search_fields = ("^connection_point_id",)
    search_placeholder = "NMI"
    list_noun = "site envelopes"
    empty_hint = "A network publishes them through POST /api/v1/programs/{id}/site-envelopes/."

    def program(self) -> Program:
        if not hasattr(self, "_program"):
            self._program = get_for_utility(
                Program.objects.all(), utility=self.request.utility, pk=self.kwargs["pk"]
            )
        return self._program

    def get_base_queryset(self):
        return site_envelopes(program=self.program())

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        nmi = self.get_list_params().get("q", "").upper()[:10]
        chosen = len(nmi) == 10
        context.update(
            program=self.program(),
            chart_nmi=nmi if chosen else "",
            chart=site_envelope_chart(
                site_envelopes(program=self.program(), connection_point_id=nmi)[:500]
                if chosen
                else []
            ),
        )
        return context


def site_envelope_chart(envelopes) -> dict:
    """What the envelope chart draws: each limit flat over each envelope's interval (x in
    seconds since the epoch), with a gap where the NMI has none (or it was cancelled)."""
    limits = {
        "op_mod_exp_lim_w": "Export limit (W)",
        "op_mod_imp_lim_w": "Import limit (W)",
        "op_mod_gen_lim_w": "Generation limit (W)",
        "op_mod_load_lim_w": "Load limit (W)",
    }
    times: list[int] = []
    series: dict[str, list[int | None]] = {name: [] for name in limits}
    for envelope in envelopes:
        if envelope.cancelled_at is not None:
            continue
        start, end = int(envelope.start.timestamp()), int(envelope.end.timestamp())
        # Flat from start to end, then a gap until the next envelope.
        for at, row in ((start, envelope), (end, envelope), (end + 1, None)):
            times.append(at)
            for name in limits:
                series[name].append(getattr(row, name) if row is not None else None)
    shown = [name for name in limits if any(v is not None for v in series[name])]
    return {
        "times": times,
        "series": [{"label": limits[name], "values": series[name]} for name in shown],
    }
