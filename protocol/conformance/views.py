"""Portal pages for vendor onboarding: the vendor's side and the utility's review.

Vendor pages go through enrollment.vendor.VendorScopedMixin (their organisation only,
404 otherwise); utility pages through UtilityScopedMixin (the active utility only).
"""

import json

from django.contrib import messages
from django.contrib.auth import login
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.generic import DetailView, FormView, ListView, TemplateView
from django.views.generic.base import View
from django.views.generic.detail import SingleObjectMixin

from enrollment.choices import ApplicationStatus
from enrollment.forms import (
    ApplicationForm,
    CertificateForm,
    ProductModelForm,
    VendorSignupForm,
)
from enrollment.models import ConformanceRun, IssuedCertificate, ProductModel, VendorApplication
from enrollment.services import (
    application_approve,
    application_create,
    vendor_product_create,
    vendor_signup,
)
from enrollment.vendor import Capability, VendorScopedMixin
from programs.models import Program
from protocol.conformance.certificates import certificate_issue, certificate_revoke, chain_pem
from protocol.conformance.forms import RunForm
from protocol.conformance.procedures import REGISTRY
from protocol.conformance.runner import run_report, run_timeline
from protocol.conformance.services import conformance_run_launch
from tenancy.choices import Role
from tenancy.lists import BooleanFilter, ChoiceFilter, ForeignKeyFilter, ListPageMixin
from tenancy.mixins import UtilityScopedMixin

MANAGERS = frozenset({Role.PROGRAM_MANAGER})


def _errors(exc: ValidationError) -> str:
    return " ".join(exc.messages)


# --- vendor side ---------------------------------------------------------------------------


class VendorSignupView(FormView):
    """Public: a new organisation (pending) and its first administrator."""

    template_name = "conformance/signup.html"
    form_class = VendorSignupForm

    def form_valid(self, form):
        try:
            membership = vendor_signup(
                name=form.cleaned_data["organization"],
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
                website=form.cleaned_data["website"],
            )
        except ValidationError as exc:
            form.add_error(None, _errors(exc))
            return self.form_invalid(form)
        login(self.request, membership.user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("conformance:vendor-home")


class VendorHomeView(VendorScopedMixin, ListView):
    model = VendorApplication
    template_name = "conformance/vendor_home.html"

    def get_queryset(self):
        return super().get_queryset().select_related("program", "program__utility")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["organization"] = self.organization
        context["products"] = ProductModel.objects.filter(organization=self.organization)
        context["apply_form"] = ApplicationForm()
        context["product_form"] = ProductModelForm()
        return context


class VendorApplyView(VendorScopedMixin, View):
    write_capability = Capability.MANAGE

    def post(self, request):
        form = ApplicationForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Choose a program.")
            return redirect("conformance:vendor-home")
        try:
            application = application_create(
                organization=self.organization,
                program=form.cleaned_data["program"],
                actor=request.user,
            )
        except ValidationError as exc:
            messages.error(request, _errors(exc))
            return redirect("conformance:vendor-home")
        return redirect("conformance:vendor-application", pk=application.pk)


class VendorProductCreateView(VendorScopedMixin, View):
    write_capability = Capability.MANAGE

    def post(self, request):
        form = ProductModelForm(request.POST)
        if form.is_valid():
            try:
                vendor_product_create(
                    organization=self.organization, actor=request.user, **form.cleaned_data
                )
            except ValidationError as exc:
                messages.error(request, f"Product not added: {_errors(exc)}")
            else:
                messages.success(request, "Product added.")
        else:
            messages.error(request, f"Product not added: {form.errors.as_text()}")
        return redirect("conformance:vendor-home")


class VendorApplicationView(VendorScopedMixin, DetailView):
    model = VendorApplication
    template_name = "conformance/vendor_application.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        application = self.object
        context["certificates"] = application.certificates.all()
        context["runs"] = application.runs.all()[:50]
        context["certificate_form"] = CertificateForm()
        context["run_form"] = RunForm()
        context["procedures"] = [REGISTRY[k] for k in REGISTRY]
        return context


class VendorCertificateIssueView(VendorScopedMixin, SingleObjectMixin, View):
    """Issue from a CSR (pasted, or made in the browser by keygen.js), or generate a key
    and show it once (it is not stored)."""

    model = VendorApplication
    write_capability = Capability.TEST

    def post(self, request, pk):
        application = self.get_object()
        form = CertificateForm(request.POST)
        if not form.is_valid():
            raise Http404
        try:
            issuance = certificate_issue(
                application=application,
                kind=form.cleaned_data["kind"],
                csr_pem=form.cleaned_data["csr"] or None,
                actor=request.user,
            )
        except ValidationError as exc:
            messages.error(request, f"Certificate refused: {_errors(exc)}")
            return redirect("conformance:vendor-application", pk=application.pk)
        response = render(
            request,
            "conformance/certificate_issued.html",
            {
                "application": application,
                "certificate": issuance.certificate,
                "key_pem": issuance.key_pem,
                "chain": chain_pem(utility=application.utility),
            },
        )
        response["Cache-Control"] = "no-store"
        return response


class VendorRunStartView(VendorScopedMixin, SingleObjectMixin, View):
    model = VendorApplication
    write_capability = Capability.TEST

    def post(self, request, pk):
        application = self.get_object()
        form = RunForm(request.POST)
        if not form.is_valid():
            messages.error(request, form.errors.as_text())
            return redirect("conformance:vendor-application", pk=application.pk)
        try:
            run = conformance_run_launch(
                application=application,
                procedures=form.cleaned_data["procedures"] or None,
                time_scale=form.cleaned_data["time_scale"],
                parameters=form.cleaned_data["parameters"] or None,
                actor=request.user,
            )
        except ValidationError as exc:
            messages.error(request, _errors(exc))
            return redirect("conformance:vendor-application", pk=application.pk)
        return redirect("conformance:vendor-run", pk=run.pk)


class _RunMixin:
    model = ConformanceRun

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        run = self.object
        context["rows"] = [
            {"key": k, "procedure": REGISTRY.get(k), **run.results.get(k, {})}
            for k in run.procedures
        ]
        context["timeline"] = run_timeline(run)[:500]
        return context


class VendorRunView(VendorScopedMixin, _RunMixin, DetailView):
    organization_path = "application__organization"
    template_name = "conformance/run_detail.html"

    def get_template_names(self):
        if self.request.headers.get("HX-Request"):
            return ["conformance/_run_progress.html"]
        return [self.template_name]


class VendorRunReportView(VendorScopedMixin, SingleObjectMixin, View):
    model = ConformanceRun
    organization_path = "application__organization"

    def get(self, request, pk):
        return report_response(self.get_object())


class VendorRunReportHtmlView(VendorRunReportView):
    def get(self, request, pk):
        return report_html_response(self.get_object())


def report_response(run: ConformanceRun) -> HttpResponse:
    body = json.dumps(run_report(run), indent=2)
    response = HttpResponse(body, content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="conformance-run-{run.pk}.json"'
    return response


# Evidence rows shown per procedure in the HTML report; the full timeline is in the JSON.
REPORT_EXCERPT_ROWS = 20


def report_html_response(run: ConformanceRun) -> HttpResponse:
    """The report as one self-contained HTML file (inline CSS, no scripts, no links out)."""
    report = run_report(run)
    procedures = []
    for proc in report["procedures"]:
        labels = {s.get("label") for s in proc.get("steps", [])} - {None, ""}
        exchanges = [row for row in report["timeline"] if row.get("step") in labels]
        procedures.append(
            {
                **proc,
                "exchanges": exchanges[:REPORT_EXCERPT_ROWS],
                "more": max(0, len(exchanges) - REPORT_EXCERPT_ROWS),
            }
        )
    passed = sum(1 for p in procedures if p.get("status") == "passed")
    body = render_to_string(
        "conformance/report.html",
        {
            "report": report,
            "procedures": procedures,
            "passed": passed,
            "timeline": report["timeline"][:200],
            "timeline_more": max(0, len(report["timeline"]) - 200),
        },
    )
    response = HttpResponse(body, content_type="text/html; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="conformance-run-{run.pk}.html"'
    return response


# --- utility side ------------------------------------------------------------------------


class ApplicationListView(ListPageMixin, UtilityScopedMixin, ListView):
    model = VendorApplication
    template_name = "conformance/application_list.html"
    search_fields = ("organization__name", "program__name")
    search_placeholder = "Organisation or program"
    filters = (
        ChoiceFilter("status", "Status", options=ApplicationStatus.choices),
        ForeignKeyFilter("program", "Program", field="program_id", model=Program),
        BooleanFilter(
            "passed",
            "Conformance",
            field="conformance_passed",
            yes_label="Passed",
            no_label="Not passed yet",
        ),
    )
    ordering = ("-created_at", "-pk")
    list_noun = "vendor applications"
    empty_hint = "vendors sign up and apply to a program from the vendor portal."

    def get_queryset(self):
        return super().get_queryset().select_related("organization", "program")


class ApplicationDetailView(UtilityScopedMixin, DetailView):
    model = VendorApplication
    template_name = "conformance/application_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["certificates"] = self.object.certificates.all()
        context["runs"] = self.object.runs.all()[:50]
        context["products"] = ProductModel.objects.filter(organization=self.object.organization)
        context["can_approve"] = self.request.membership.role in MANAGERS
        return context


class RunDetailView(UtilityScopedMixin, _RunMixin, DetailView):
    template_name = "conformance/run_detail.html"

    def get_template_names(self):
        if self.request.headers.get("HX-Request"):
            return ["conformance/_run_progress.html"]
        return [self.template_name]


class RunReportView(UtilityScopedMixin, SingleObjectMixin, View):
    model = ConformanceRun

    def get(self, request, pk):
        return report_response(self.get_object())


class RunReportHtmlView(RunReportView):
    def get(self, request, pk):
        return report_html_response(self.get_object())


class RunApproveView(UtilityScopedMixin, SingleObjectMixin, View):
    """A program manager approves the application on this passing run."""

    model = ConformanceRun
    allowed_roles = MANAGERS
    write_roles = MANAGERS

    def post(self, request, pk):
        run = self.get_object()
        try:
            rows = application_approve(application=run.application, run=run, actor=request.user)
        except ValidationError as exc:
            messages.error(request, _errors(exc))
        else:
            messages.success(request, f"Approved; {len(rows)} product(s) qualified.")
        return redirect(reverse("conformance:application-detail", args=[run.application_id]))


class CertificateRevokeView(UtilityScopedMixin, SingleObjectMixin, View):
    model = IssuedCertificate

    def post(self, request, pk):
        certificate = self.get_object()
        if not certificate.revoked:
            certificate_revoke(certificate=certificate)
            messages.success(request, "Certificate revoked; it is refused from now on.")
        return redirect("conformance:application-detail", pk=certificate.application_id)


class ProceduresView(TemplateView):
    """Public list of procedures and their pass criteria."""

    template_name = "conformance/procedures.html"

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "procedures": list(REGISTRY.values())}
