"""The portal shell: home, utility switching, utility settings and the operator status page."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin, UserPassesTestMixin
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.http import Http404, HttpResponseForbidden, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import redirect, render
from django.template import loader
from django.urls import reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View, defaults
from django.views.generic import CreateView, DeleteView, ListView, TemplateView, UpdateView

from enrollment.forms import IncentiveRatesForm
from enrollment.models import Customer, Enrollment, IncentiveRates
from enrollment.services import incentive_rates_set
from enrollment.views import customer_page
from portal.alerts import alert_acknowledge, alert_resolve
from portal.forms import BrandForm, BrandingForm, TerritoryAreaForm
from portal.models import Alert, AlertKind, AlertStatus
from portal.selectors import pm_home_kpis, system_health
from portal.services import active_utility_switch
from programs.models import Program
from settlement.forms import SettlementRulesForm
from settlement.models import Adjustment, CustomerPayment
from settlement.rules import rules_for_program
from settlement.selectors import device_past_events
from settlement.services import settlement_rules_set
from tenancy.choices import Role
from tenancy.lists import ChoiceFilter, ListPageMixin
from tenancy.mixins import UtilityMemberMixin, UtilityScopedMixin
from tenancy.models import Brand, Membership, TerritoryArea
from tenancy.selectors import get_for_utility
from vendors.models import VendorMembership


class HomeView(LoginRequiredMixin, TemplateView):
    """Where everyone lands: staff see their utility's overview; others get pointed onward."""

    template_name = "portal/home.html"

    @classmethod
    def permits(cls, request, method: str = "GET") -> bool:
        # A vendor user's home is their organisation's page, a customer's their own branded
        # pages: for them this one only redirects there (and is not in their navigation).
        return request.user.is_authenticated and cls._elsewhere(request) is None

    @staticmethod
    def _elsewhere(request) -> str | None:
        """The home of a user who belongs to no utility's staff, if they have one."""
        if getattr(request, "utility", None) is not None:
            return None
        if _is_vendor_user(request.user):
            return "vendors:vendor-home"
        if Customer.objects.filter(user=request.user).exists():
            return "enrollment:my"
        return None

    def get(self, request, *args, **kwargs):
        if elsewhere := self._elsewhere(request):
            return redirect(elsewhere)
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        utility = self.request.utility
        if utility is not None:
            counts = (
                Membership.objects.all()
                .for_utility(utility)
                .values_list("role")
                .annotate(n=Count("id"))
            )
            context["team"] = [(Role(role).label, n) for role, n in counts]
            context["kpis"] = pm_home_kpis(utility=utility)
            context["brands"] = Brand.objects.all().for_utility(utility)
            context["territory"] = TerritoryArea.objects.all().for_utility(utility)
        return context


def _is_vendor_user(user) -> bool:
    return user.is_authenticated and VendorMembership.objects.filter(user=user).exists()


def permission_denied(request, exception=None):
    """403 page; a vendor user on a utility page is pointed to the vendor portal instead."""
    vendor = (
        _is_vendor_user(request.user)
        and getattr(request, "membership", None) is None
        and not request.user.is_staff
    )
    template = loader.get_template("403_vendor.html" if vendor else "403.html")
    context = {"exception": str(exception) if exception else ""}
    return HttpResponseForbidden(template.render(context, request))


def page_not_found(request, exception=None):
    """404: JSON under /api/ (an API client, e.g. with a malformed id in the path, gets the
    `{"detail": ...}` body the schema documents), Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


@login_required
def switch_utility(request):
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        utility_id = int(request.POST.get("utility", ""))
    except ValueError:
        utility_id = -1
    if active_utility_switch(request=request, utility_id=utility_id):
        messages.success(request, "Switched utility.")
    else:
        messages.error(request, "You are not a member of that utility.")
    next_url = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = "/"
    return redirect(next_url)


class StatusView(LoginRequiredMixin, UserPassesTestMixin, TemplateView):
    """Operators' view of the moving parts: database, broker, channel layer, beat, worker."""

    template_name = "portal/status.html"

    @classmethod
    def permits(cls, request, method: str = "GET") -> bool:
        membership = getattr(request, "membership", None)
        return request.user.is_staff or (
            membership is not None and membership.role == Role.OPERATOR
        )

    def test_func(self):
        return self.permits(self.request, self.request.method)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["checks"] = system_health()
        return context

    def get_template_names(self):
        if self.request.htmx:
            return ["portal/_status_checks.html"]
        return [self.template_name]


class UtilitySettingsView(UtilityMemberMixin, UpdateView):
    """Branding of the active utility (program managers)."""

    allowed_roles = {Role.PROGRAM_MANAGER, Role.OPERATOR, Role.ANALYST}
    write_roles = {Role.PROGRAM_MANAGER}
    form_class = BrandingForm
    template_name = "portal/utility_settings.html"
    success_url = reverse_lazy("portal:utility-settings")

    def get_object(self, queryset=None):
        return self.request.utility

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        utility = self.request.utility
        context["brands"] = Brand.objects.all().for_utility(utility)
        context["territory"] = TerritoryArea.objects.all().for_utility(utility)
        context["members"] = Membership.objects.select_related("user").for_utility(utility)
        context["territory_form"] = TerritoryAreaForm()
        return context

    def form_valid(self, form):
        messages.success(self.request, "Branding saved.")
        return super().form_valid(form)


class ProgramIncentivesView(UtilityMemberMixin, TemplateView):
    """A program's incentive rates and how its events are paid, edited together by its
    program managers (never in admin), with the history of every change."""

    allowed_roles = {Role.PROGRAM_MANAGER, Role.OPERATOR, Role.ANALYST}
    write_roles = {Role.PROGRAM_MANAGER}
    template_name = "portal/program_incentives.html"
    model = Program  # the object the URL names (the tenant-isolation sweep reads it)

    def program(self) -> Program:
        return get_for_utility(
            Program.objects.all(), utility=self.request.utility, pk=self.kwargs["pk"]
        )

    def forms(self, program: Program, data=None) -> tuple[IncentiveRatesForm, SettlementRulesForm]:
        rates = IncentiveRates.objects.filter(program=program).first() or IncentiveRates(
            utility_id=program.utility_id, program=program
        )
        incentives = IncentiveRatesForm(data, instance=rates, prefix="incentives")
        payment = SettlementRulesForm(data, instance=rules_for_program(program), prefix="payment")
        if not self.permits(self.request, "POST"):
            for form in (incentives, payment):
                for field in form.fields.values():
                    field.disabled = True
        return incentives, payment

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        program = kwargs.get("program") or self.program()
        incentives, payment = kwargs.get("forms") or self.forms(program)
        context.update(
            program=program,
            incentives_form=incentives,
            payment_form=payment,
            may_edit=self.permits(self.request, "POST"),
            history=program.changes.select_related("actor")[:50],
        )
        return context

    def post(self, request, *args, **kwargs):
        program = self.program()
        incentives, payment = self.forms(program, request.POST)
        if incentives.is_valid() and payment.is_valid():
            try:
                with transaction.atomic():
                    incentive_rates_set(
                        program=program, actor=request.user, values=incentives.cleaned_data
                    )
                    settlement_rules_set(
                        program=program, actor=request.user, values=payment.cleaned_data
                    )
            except ValidationError as error:
                incentives.add_error(None, error)
            else:
                messages.success(request, f"Incentives and payment rules of {program} saved.")
                return redirect("portal:program-incentives", pk=program.pk)
        context = self.get_context_data(program=program, forms=(incentives, payment))
        return self.render_to_response(context, status=400)


class BrandListView(ListPageMixin, UtilityScopedMixin, ListView):
    model = Brand
    template_name = "portal/brand_list.html"
    search_fields = ("name", "states")
    search_placeholder = "Name or state"
    ordering = ("name", "pk")
    list_noun = "brands"
    empty_hint = "a brand names a utility operating company and the states it serves."


class BrandCreateView(UtilityScopedMixin, CreateView):
    model = Brand
    form_class = BrandForm
    allowed_roles = write_roles = {Role.PROGRAM_MANAGER}  # a form page
    template_name = "portal/brand_form.html"
    success_url = reverse_lazy("portal:brand-list")

    def form_valid(self, form):
        messages.success(self.request, f"Brand “{form.instance.name}” added.")
        return super().form_valid(form)


class BrandUpdateView(UtilityScopedMixin, UpdateView):
    model = Brand
    form_class = BrandForm
    allowed_roles = write_roles = {Role.PROGRAM_MANAGER}  # a form page
    template_name = "portal/brand_form.html"
    success_url = reverse_lazy("portal:brand-list")

    def form_valid(self, form):
        messages.success(self.request, f"Brand “{form.instance.name}” saved.")
        return super().form_valid(form)


class TerritoryAreaCreateView(UtilityScopedMixin, CreateView):
    model = TerritoryArea
    form_class = TerritoryAreaForm
    allowed_roles = write_roles = {Role.PROGRAM_MANAGER}  # a form page
    template_name = "portal/territory_form.html"
    success_url = reverse_lazy("portal:utility-settings")

    def form_valid(self, form):
        form.instance.utility = self.request.utility
        duplicate = (
            TerritoryArea.objects.all()
            .for_utility(self.request.utility)
            .filter(state=form.instance.state, zip_prefix=form.instance.zip_prefix)
        )
        if duplicate.exists():
            form.add_error(None, "That area is already part of the territory.")
            return self.form_invalid(form)
        messages.success(self.request, f"Added {form.instance} to the service territory.")
        return super().form_valid(form)


class TerritoryAreaDeleteView(UtilityScopedMixin, DeleteView):
    """POST removes an area; GET shows the confirmation."""

    model = TerritoryArea
    allowed_roles = write_roles = {Role.PROGRAM_MANAGER}  # a confirmation page
    template_name = "portal/territory_confirm_delete.html"
    success_url = reverse_lazy("portal:utility-settings")

    def form_valid(self, form):
        messages.success(self.request, f"Removed {self.object} from the service territory.")
        return super().form_valid(form)


class AlertListView(ListPageMixin, UtilityScopedMixin, ListView):
    """Alerts with filters (unresolved by default); acknowledge and resolve from the list."""

    model = Alert
    template_name = "portal/alert_list.html"
    search_fields = ("message",)
    search_placeholder = "Search messages"
    filters = (
        ChoiceFilter(
            "status",
            "Status",
            method="filter_status",
            any_label="All statuses",
            default="unresolved",
            options=[("unresolved", "Unresolved"), *AlertStatus.choices],
        ),
        ChoiceFilter("kind", "Kind", any_label="Every kind", options=AlertKind.choices),
    )
    ordering = ("-opened_at", "-pk")
    list_noun = "alerts"

    def get_queryset(self):
        return super().get_queryset().select_related("acknowledged_by")

    def filter_status(self, queryset, status):
        if status == "unresolved":
            return queryset.exclude(status=AlertStatus.RESOLVED)
        return queryset.filter(status=status)


class AlertActionView(UtilityMemberMixin, View):
    """POST acknowledge or resolve; answers htmx with the updated row (or, from the control
    room's card, ``compact`` list item)."""

    model = Alert
    actions = {"acknowledge": alert_acknowledge, "resolve": alert_resolve}

    def post(self, request, pk, action):
        alert = get_for_utility(Alert.objects.all(), utility=request.utility, pk=pk)
        service = self.actions.get(action)
        if service is None:
            raise Http404("Unknown alert action.")
        try:
            service(alert=alert, user=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        if request.htmx:
            template = "_alert_item.html" if request.POST.get("compact") else "_alert_row.html"
            return render(request, f"portal/{template}", {"alert": alert})
        return redirect(request.POST.get("next") or "portal:alert-list")


@customer_page
def my_events(request):
    """The customer's finished events: what their battery delivered and what it earned."""
    customer = Customer.objects.filter(user=request.user).select_related("utility").first()
    if customer is None:
        raise Http404("No customer account.")
    enrollments = (
        Enrollment.objects.for_utility(customer.utility)
        .filter(customer=customer, device__isnull=False)
        .select_related("program", "device", "device__utility")
    )
    sections = [
        {
            "enrollment": e,
            "events": device_past_events(device=e.device, program=e.program),
        }
        for e in enrollments
    ]
    return render(
        request,
        "enrollment/my_events.html",
        {"customer": customer, "utility": customer.utility, "sections": sections},
    )


@customer_page
def my_credits(request):
    """The customer's settled credits, line by line (shown inside their self-service page)."""
    customer = Customer.objects.filter(user=request.user).select_related("utility").first()
    if customer is None:
        raise Http404("No customer account.")
    devices = (
        Enrollment.objects.for_utility(customer.utility)
        .filter(customer=customer, device__isnull=False)
        .values("device_id")
    )
    payments = (
        CustomerPayment.objects.for_utility(customer.utility)
        .filter(batch__isnull=False, device_id__in=devices)
        .select_related("batch", "settlement__season")
        .prefetch_related("lines")
        .order_by("-settlement__computed_at")
    )
    adjustments = (
        Adjustment.objects.for_utility(customer.utility)
        .filter(device_id__in=devices)
        .select_related("batch")
    )
    return render(
        request, "portal/_my_credits.html", {"payments": payments, "adjustments": adjustments}
    )
