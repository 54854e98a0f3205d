"""Staff pages (the review queue, decisions, CSV export, funnel, whitelist import) and the
customer's own page (``/my/``)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.generic import DetailView, FormView, ListView, TemplateView
from django.views.generic.detail import SingleObjectMixin

from enrollment import selectors, services
from enrollment.choices import EnrollmentState
from enrollment.forms import AttachDeviceForm, BulkDecisionForm, DecisionForm, WhitelistImportForm
from enrollment.models import Customer, Enrollment
from programs import services as program_services
from programs.models import Event, Program
from tenancy.choices import EXPORT_ROLES, Role
from tenancy.exports import SpreadsheetCsvWriter
from tenancy.lists import BooleanFilter, ChoiceFilter, ForeignKeyFilter, ListPageMixin
from tenancy.mixins import UtilityDownloadMixin, UtilityMemberMixin, UtilityScopedMixin

MANAGERS = frozenset({Role.PROGRAM_MANAGER})


class EnrollmentQueueView(ListPageMixin, UtilityScopedMixin, ListView):
    """The review queue: filters, search, pagination and bulk decisions."""

    model = Enrollment
    template_name = "enrollment/queue.html"
    search_placeholder = "Address, account, serial, email, #"
    filters = (
        ChoiceFilter("state", "State", options=EnrollmentState.choices),
        ForeignKeyFilter("program", "Program", field="program_id", model=Program),
        ChoiceFilter(
            "eligibility",
            "Eligibility",
            method="filter_eligibility",
            options=[("passed", "All rules passed"), ("failed", "A rule failed")],
        ),
    )
    ordering = ("-submitted_at", "-pk")
    paginate_by = 25  # a reviewer's screenful, with the bulk form below
    list_noun = "enrollments"
    empty_hint = "customers apply from the program's public enrollment page."

    def get_base_queryset(self):
        return selectors.enrollment_queue_rows(utility=self.request.utility)

    def search_queryset(self, queryset, term):
        return queryset.filter(selectors.enrollment_search_q(term))

    def filter_eligibility(self, queryset, eligibility):
        return selectors.enrollment_eligibility_filter(
            queryset, utility_id=self.request.utility.pk, eligibility=eligibility
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["can_decide"] = EnrollmentBulkView.permits(self.request, "POST")
        return context


class CustomerListView(ListPageMixin, UtilityScopedMixin, ListView):
    """The utility's enrolled customers: who they are and how many enrollments they hold."""

    model = Customer
    template_name = "enrollment/customer_list.html"
    context_object_name = "customers"
    search_fields = ("name", "user__email", "phone")
    search_placeholder = "Name, email or phone"
    filters = (
        ForeignKeyFilter("program", "Program", model=Program, method="filter_program"),
        BooleanFilter(
            "active",
            "Enrollment",
            method="filter_active",
            yes_label="Has an active one",
            no_label="None active",
        ),
    )
    ordering = ("name", "pk")
    list_noun = "customers"
    empty_hint = "customers appear here once they apply from a program's enrollment page."

    def get_base_queryset(self):
        return selectors.customers_enrolled(utility=self.request.utility)

    def filter_program(self, queryset, program_id):
        return selectors.customer_in_program_filter(queryset, program_id=program_id)

    def filter_active(self, queryset, active):
        return selectors.customer_active_filter(queryset, active=active)


class EnrollmentBulkView(UtilityMemberMixin, View):
    """POST ids and an action; ids of another utility are silently ignored (fail closed)."""

    write_roles = MANAGERS

    def post(self, request):
        form = BulkDecisionForm(request.POST)
        if not form.is_valid():
            for errors in form.errors.values():
                for e in errors:
                    messages.error(request, e)
            return redirect("enrollment:queue")
        data = form.cleaned_data
        try:
            result = services.enrollments_bulk_decide(
                utility=request.utility,
                ids=data["ids"],
                approve=data["action"] == "approve",
                actor=request.user,
                reason=data["reason"],
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("enrollment:queue")
        verb = "Approved" if data["action"] == "approve" else "Rejected"
        messages.success(request, f"{verb} {len(result.done)} enrollment(s).")
        for pk, why in result.skipped.items():
            messages.warning(request, f"#{pk} skipped: {why}")
        query = request.POST.get("next_query", "")
        return redirect(f"{reverse('enrollment:queue')}?{query}" if query else "enrollment:queue")


class EnrollmentDetailView(UtilityScopedMixin, DetailView):
    """Every fact a decision rests on: eligibility, battery, device telemetry, history."""

    model = Enrollment
    template_name = "enrollment/detail.html"
    context_object_name = "enrollment"

    def get_queryset(self):
        return super().get_queryset().select_related("program", "customer", "device", "terms")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        e = self.object
        context.update(
            results=e.eligibility_results.all(),
            transitions=e.transitions.select_related("actor"),
            telemetry=selectors.telemetry_flags(enrollment=e),
            form=DecisionForm(),
            attach_form=AttachDeviceForm(),
            can_decide=EnrollmentDecideView.permits(self.request, "POST"),
            candidate=services.device_for(enrollment=e) if e.device_id is None else None,
        )
        return context


class EnrollmentDecideView(UtilityScopedMixin, SingleObjectMixin, View):
    """One decision on one enrollment (approve, reject, re-check, link, terminate)."""

    model = Enrollment
    write_roles = MANAGERS

    def post(self, request, pk):
        enrollment = self.get_object()
        form = DecisionForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Choose a decision.")
            return redirect("enrollment:detail", pk=enrollment.pk)
        action, reason = form.cleaned_data["action"], form.cleaned_data["reason"]
        try:
            if action == "approve":
                services.enrollment_approve(
                    enrollment=enrollment, actor=request.user, reason=reason
                )
            elif action == "reject":
                services.enrollment_reject(enrollment=enrollment, actor=request.user, reason=reason)
            elif action == "recheck":
                services.enrollment_check_eligibility(enrollment=enrollment, actor=request.user)
            elif action == "terminate":
                services.enrollment_terminate(
                    enrollment=enrollment, actor=request.user, reason=reason
                )
            elif action == "link":
                device = services.device_for(enrollment=enrollment)
                if device is None:
                    raise ValidationError("No device with this vendor and serial has appeared yet.")
                services.enrollment_link_device(
                    enrollment=enrollment, device=device, actor=request.user
                )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, "Done.")
        return redirect("enrollment:detail", pk=enrollment.pk)


class EnrollmentAttachDeviceView(UtilityScopedMixin, SingleObjectMixin, View):
    """Attach a registered device to the enrollment by its LFDI or SFDI."""

    model = Enrollment
    write_roles = MANAGERS

    def post(self, request, pk):
        enrollment = self.get_object()
        form = AttachDeviceForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Enter the device's LFDI or SFDI.")
            return redirect("enrollment:detail", pk=enrollment.pk)
        try:
            enrollment = services.enrollment_attach_device(
                enrollment=enrollment, identity=form.cleaned_data["identity"], actor=request.user
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"Attached {enrollment.device}.")
        return redirect("enrollment:detail", pk=enrollment.pk)


class EnrollmentExportView(UtilityDownloadMixin, ListView):
    """The filtered queue as CSV."""

    model = Enrollment
    allowed_roles = EXPORT_ROLES

    def get(self, request, *args, **kwargs):
        queue = EnrollmentQueueView()
        queue.setup(request)
        rows = queue.get_queryset().select_related("program", "customer")
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="enrollments-{stamp}.csv"'
        writer = SpreadsheetCsvWriter(response)
        writer.writerow(
            ["id", "program", "state", "state_reason", "submitted_at", "street", "city",
             "state_code", "zip_code", "account_number", "vendor", "model", "serial",
             "install_date", "has_solar", "solar_kw", "incentive_upfront",
             "participation_credit_per_kw", "credit_period", "device_id", "email", "customer"]
        )  # fmt: skip
        for e in rows.iterator():
            writer.writerow(
                (
                    e.pk, e.program.name, e.state, e.state_reason, e.submitted_at.isoformat(),
                    e.street, e.city, e.state_code, e.zip_code, e.account_number, e.vendor_name,
                    e.model_name, e.serial, e.install_date.isoformat(), e.has_solar,
                    e.solar_kw or "", e.incentive_upfront or "",
                    e.participation_credit_per_kw or "", e.credit_period, e.device_id or "",
                    e.email, e.customer.name if e.customer_id else "",
                )
            )  # fmt: skip
        return response


class EnrollmentFunnelView(UtilityMemberMixin, TemplateView):
    template_name = "enrollment/funnel.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["funnel"] = selectors.enrollment_funnel(utility=self.request.utility)
        return context


class WhitelistImportView(UtilityMemberMixin, FormView):
    """CSV import of eligible accounts: errors are listed row by row and nothing is written."""

    template_name = "enrollment/whitelist_import.html"
    form_class = WhitelistImportForm
    allowed_roles = MANAGERS  # a form page: only those who may submit it open it
    write_roles = MANAGERS

    def form_valid(self, form):
        result = services.whitelist_import(
            utility=self.request.utility, file_text=form.cleaned_data["file"]
        )
        if result.errors:
            return self.render_to_response(
                self.get_context_data(form=form, errors=result.errors), status=400
            )
        messages.success(
            self.request,
            f"Imported {result.created} new and updated {result.updated} account(s).",
        )
        return redirect("enrollment:whitelist-import")


# --- The customer's own page -------------------------------------------------------------


def _customer(request) -> Customer | None:
    """The signed-in user's customer account, looked up once per request."""
    if not hasattr(request, "_customer"):
        request._customer = (
            Customer.objects.filter(user=request.user).select_related("utility").first()
            if request.user.is_authenticated
            else None
        )
    return request._customer


def _customer_permits(request, method: str = "GET") -> bool:
    """Customer pages are offered to customers only (``tenancy.permissions``)."""
    return _customer(request) is not None


def customer_page(view):
    """A signed-in customer's own page; links to it are shown to customers only."""
    view = login_required(view)
    view.permits = _customer_permits  # type: ignore[attr-defined]
    return view


@customer_page
def my_enrollments(request):
    customer = _customer(request)
    if customer is None:
        return render(request, "enrollment/my_none.html")
    rows = []
    for e in selectors.customer_enrollments(customer=customer):
        upcoming, past = selectors.customer_events(enrollment=e)
        rates = getattr(e.program, "incentive_rates", None)
        rows.append(
            {
                "enrollment": e,
                "next_step": selectors.NEXT_STEP[e.state],
                "failed": [r for r in e.eligibility_results.all() if not r.passed],
                "upcoming": upcoming,
                "past": past,
                "rates": rates,
                "credit_per_period": (
                    e.participation_credit_per_kw * e.equipment.nameplate_w / 1000
                    if e.participation_credit_per_kw is not None and e.equipment_id
                    else None
                ),
            }
        )
    return render(
        request,
        "enrollment/my.html",
        {"customer": customer, "rows": rows, "utility": customer.utility},
    )


def _my_enrollment(request, customer) -> Enrollment:
    pk = selectors.as_id(request.POST.get("enrollment"))
    if pk is None:
        raise Http404("No such enrollment.")
    enrollment = selectors.customer_enrollments(customer=customer).filter(pk=pk).first()
    if enrollment is None:
        raise Http404("No such enrollment.")
    return enrollment


@customer_page
def my_opt_out(request):
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    customer = _customer(request)
    if customer is None:
        raise Http404("No customer account.")
    enrollment = _my_enrollment(request, customer)
    event = (
        Event.objects.for_utility(customer.utility)
        .filter(pk=selectors.as_id(request.POST.get("event")) or -1, program=enrollment.program)
        .first()
    )
    if event is None or enrollment.device is None or enrollment.state != EnrollmentState.ACTIVE:
        raise Http404("No such event for your battery.")
    try:
        program_services.opt_out_record(event=event, device=enrollment.device, source="portal")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        start = timezone.localtime(event.start).strftime("%Y-%m-%d %H:%M %Z")
        services.notify_on_commit(enrollment_id=enrollment.pk, kind="opt_out", event_start=start)
        messages.success(request, f"You opted out of the event starting {start}.")
    return redirect("enrollment:my")


@customer_page
def my_withdraw(request):
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    customer = _customer(request)
    if customer is None:
        raise Http404("No customer account.")
    enrollment = _my_enrollment(request, customer)
    if request.POST.get("confirm") != "yes":
        messages.error(request, "Tick the box to confirm that you want to withdraw.")
        return redirect("enrollment:my")
    try:
        services.enrollment_withdraw(
            enrollment=enrollment, actor=request.user, reason="Withdrawn by the customer."
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "You have withdrawn from the program.")
    return redirect("enrollment:my")
