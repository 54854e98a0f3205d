"""Settlement pages: event performance, season dashboards, settlement review and approval.

Every page narrows through the tenancy mixins; analysts read, managers approve batches,
managers and operators recompute.
"""

from django.contrib import messages
from django.db.models import Count, Q, Sum
from django.http import HttpResponse
from django.shortcuts import redirect
from django.views import View
from django.views.generic import DetailView, ListView, TemplateView
from django.views.generic.detail import SingleObjectMixin

from programs.choices import EventStatus
from programs.models import Event, Program, Season
from settlement import services
from settlement.choices import BatchStatus
from settlement.models import (
    CustomerPayment,
    ImmutableError,
    PaymentBatch,
    ReconciliationRun,
    SeasonSettlement,
)
from settlement.rules import rules_for_program
from settlement.selectors import event_summary, factor_histogram, payment_file_csv
from tenancy.choices import EXPORT_ROLES, Role
from tenancy.lists import ChoiceFilter, ForeignKeyFilter, ListPageMixin
from tenancy.mixins import UtilityDownloadMixin, UtilityMemberMixin, UtilityScopedMixin

PAYMENTS_SHOWN = 200


class SettlementHomeView(UtilityMemberMixin, TemplateView):
    """Programs, recently reconciled events and payment batches of the active utility."""

    template_name = "settlement/index.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        utility = self.request.utility
        context["programs"] = Program.objects.all().for_utility(utility)
        context["events"] = (
            Event.objects.all()
            .for_utility(utility)
            .filter(status=EventStatus.COMPLETED)
            .select_related("program")
            .order_by("-start")[:20]
        )
        context["batches"] = PaymentBatch.objects.select_related("program").for_utility(utility)[
            :20
        ]
        return context


class EventPerformanceView(UtilityScopedMixin, DetailView):
    """One event: requested vs delivered over time, factor histogram, funnel, worst devices."""

    model = Event
    template_name = "settlement/event_performance.html"
    context_object_name = "event"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        summary = event_summary(event=self.object)
        cap = float(rules_for_program(self.object.program).performance_factor_cap)
        histogram = factor_histogram(summary.factors, top=cap)
        context["summary"] = summary
        context["chart"] = {"curve": summary.curve, "histogram": histogram}
        context["runs"] = ReconciliationRun.objects.all().for_utility(self.request.utility)
        context["runs"] = context["runs"].filter(event=self.object)
        return context


class EventRecomputeView(UtilityScopedMixin, SingleObjectMixin, View):
    """Reconcile an event again now (after late telemetry or a rule change)."""

    model = Event

    def post(self, request, *args, **kwargs):
        event = self.get_object()
        try:
            run = services.event_reconcile(event=event)
        except services.SettlementError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"Reconciled: version {run.version} is current.")
        return redirect("settlement:event", pk=event.pk)


class ProgramDashboardView(UtilityScopedMixin, DetailView):
    """A program's seasons with their settlements, and its events' performance."""

    model = Program
    template_name = "settlement/program_dashboard.html"
    context_object_name = "program"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        utility = self.request.utility
        program = self.object
        context["rules"] = rules_for_program(program)
        context["seasons"] = [
            (
                season,
                SeasonSettlement.objects.all()
                .for_utility(utility)
                .filter(season=season)
                .order_by("-version")
                .first(),
            )
            for season in Season.objects.all().for_utility(utility).filter(program=program)
        ]
        context["events"] = (
            ReconciliationRun.objects.all()
            .for_utility(utility)
            .filter(event__program=program, is_current=True)
            .select_related("event")
            .annotate(
                devices=Count("results"),
                delivered_w=Sum("results__delivered_w", filter=Q(results__counted=True)),
                committed_w=Sum("results__committed_w"),
            )
            .order_by("-event__start")[:50]
        )
        return context


class SeasonSettleView(UtilityScopedMixin, SingleObjectMixin, View):
    """Compute a new settlement version for a season."""

    model = Season
    write_roles = {Role.PROGRAM_MANAGER}

    def post(self, request, *args, **kwargs):
        season = self.get_object()
        settlement = services.season_settle(season=season)
        messages.success(request, f"Settlement v{settlement.version}: ${settlement.total}.")
        return redirect("settlement:settlement", pk=settlement.pk)


class SettlementDetailView(UtilityScopedMixin, DetailView):
    """A season settlement for review: totals and each payment's arithmetic."""

    model = SeasonSettlement
    template_name = "settlement/settlement_detail.html"
    context_object_name = "settlement"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        payments = (
            CustomerPayment.objects.all()
            .for_utility(self.request.utility)
            .filter(settlement=self.object)
        )
        context["payment_count"] = payments.count()
        context["unbatched"] = payments.filter(batch__isnull=True).count()
        context["payments"] = payments.prefetch_related("lines").select_related("batch")[
            :PAYMENTS_SHOWN
        ]
        return context


class BatchCreateView(UtilityScopedMixin, SingleObjectMixin, View):
    """Put a settlement's unbatched payments into a new draft batch."""

    model = SeasonSettlement
    write_roles = {Role.PROGRAM_MANAGER}

    def post(self, request, *args, **kwargs):
        settlement = self.get_object()
        try:
            batch = services.payment_batch_create(
                program=settlement.program, period=str(settlement.season), settlement=settlement
            )
        except ImmutableError as exc:
            messages.error(request, exc.messages[0])
            return redirect("settlement:settlement", pk=settlement.pk)
        return redirect("settlement:batch", pk=batch.pk)


class PaymentBatchListView(ListPageMixin, UtilityScopedMixin, ListView):
    """Every payment batch of the utility, newest first."""

    model = PaymentBatch
    template_name = "settlement/batch_list.html"
    context_object_name = "batches"
    search_fields = ("period", "program__name")
    search_placeholder = "Period or program"
    filters = (
        ChoiceFilter("status", "Status", options=BatchStatus.choices),
        ForeignKeyFilter("program", "Program", field="program_id", model=Program),
    )
    ordering = ("-created_at", "-pk")
    list_noun = "payment batches"
    empty_hint = "settle a season, then create its batch from the settlement page."

    def get_queryset(self):
        return super().get_queryset().select_related("program", "approved_by")


class PaymentBatchDetailView(UtilityScopedMixin, DetailView):
    """Review a batch before approval; approved batches are read-only."""

    model = PaymentBatch
    template_name = "settlement/batch_detail.html"
    context_object_name = "batch"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        utility = self.request.utility
        payments = CustomerPayment.objects.all().for_utility(utility).filter(batch=self.object)
        context["totals"] = payments.aggregate(n=Count("id"), total=Sum("amount"))
        context["payments"] = payments.prefetch_related("lines")[:PAYMENTS_SHOWN]
        context["adjustments"] = self.object.adjustments.all()
        context["can_approve"] = PaymentBatchApproveView.permits(self.request, "POST")
        return context


class PaymentBatchApproveView(UtilityScopedMixin, SingleObjectMixin, View):
    """A program manager approves a draft batch; it is final from then on."""

    model = PaymentBatch
    allowed_roles = frozenset(Role)
    write_roles = {Role.PROGRAM_MANAGER}

    def post(self, request, *args, **kwargs):
        batch = self.get_object()
        try:
            services.payment_batch_approve(batch=batch, actor=request.user)
        except ImmutableError as exc:
            messages.error(request, exc.messages[0])
        else:
            messages.success(request, "Batch approved. It can no longer change.")
        return redirect("settlement:batch", pk=batch.pk)


class PaymentFileView(UtilityDownloadMixin, SingleObjectMixin, View):
    """The batch's CSV payment file."""

    model = PaymentBatch
    allowed_roles = EXPORT_ROLES

    def get(self, request, *args, **kwargs):
        batch = self.get_object()
        response = HttpResponse(payment_file_csv(batch=batch), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="payments-{batch.pk}.csv"'
        return response
