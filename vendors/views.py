"""Vendor pages: the operators' approval queue (platform staff); the vendor's own team,
contacts, products, applications, certificates and conformance runs (their organisation
only, through vendors.roles.VendorScopedMixin, 404 otherwise); and the utility's review of
applications and runs (the active utility only, through UtilityScopedMixin).

Every change goes through a service in vendors.services, which re-checks the actor's
capability; the views only translate forms and errors.
"""

import json

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.mixins import LoginRequiredMixin, UserPassesTestMixin
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.generic import DetailView, FormView, ListView, TemplateView
from django.views.generic.base import View
from django.views.generic.detail import SingleObjectMixin

from programs.models import Program
from tenancy.choices import Role
from tenancy.lists import (
    BooleanFilter,
    ChoiceFilter,
    ForeignKeyFilter,
    ListPageMixin,
    search_q,
)
from tenancy.mixins import UtilityDownloadMixin, UtilityScopedMixin
from vendors import services
from vendors.certificates import certificate_issue, certificate_revoke, chain_pem
from vendors.choices import ApplicationStatus, ContactKind, VendorKind, VendorRole, VendorStatus
from vendors.forms import (
    ApplicationForm,
    CertificateForm,
    ProductModelForm,
    RunForm,
    VendorContactForm,
    VendorDecisionForm,
    VendorInviteForm,
    VendorRoleForm,
    VendorSignupForm,
)
from vendors.models import (
    ConformanceRun,
    IssuedCertificate,
    ProductModel,
    VendorApplication,
    VendorContact,
    VendorMembership,
    VendorOrganization,
)
from vendors.registry import engine
from vendors.roles import Capability, VendorScopedMixin
from vendors.selectors import vendor_onboarding

MANAGERS = frozenset({Role.PROGRAM_MANAGER})


def _errors(exc: ValidationError) -> str:
    return " ".join(exc.messages)


# --- platform operators ------------------------------------------------------------------


class PlatformStaffMixin(LoginRequiredMixin, UserPassesTestMixin):
    """Platform operators only (Django staff): 403 for everyone else who is signed in."""

    permission_denied_message = "Only platform operators can open this page."

    @classmethod
    def permits(cls, request, method: str = "GET") -> bool:
        return request.user.is_staff and request.user.is_active

    def test_func(self):
        return self.permits(self.request, self.request.method)


class PlatformVendorListView(ListPageMixin, PlatformStaffMixin, ListView):
    """Every vendor organisation, newest first, with approve / reject / suspend."""

    model = VendorOrganization
    template_name = "vendors/platform_vendors.html"
    search_fields = ("name", "slug", "website")
    search_placeholder = "Organisation, website or a member's email"
    filters = (
        ChoiceFilter("status", "Status", options=VendorStatus.choices),
        ChoiceFilter("kind", "Kind", options=VendorKind.choices),
    )
    ordering = ("-created_at", "-pk")
    list_noun = "vendor organisations"
    empty_hint = "vendors register themselves from the sign-up page."

    def search_queryset(self, queryset, term):
        # A subquery, not a join: joined members would narrow the member counts below.
        members = VendorMembership.objects.filter(user__email__icontains=term)
        return queryset.filter(
            search_q(self.search_fields, term) | Q(pk__in=members.values("organization_id"))
        )

    def get_queryset(self):
        return (
            super()
            .get_queryset()
            .annotate(
                n_members=Count("members", distinct=True),
                n_certificates=Count(
                    "applications__certificates",
                    filter=Q(applications__certificates__revoked=False),
                    distinct=True,
                ),
            )
        )


class PlatformVendorDecideView(PlatformStaffMixin, SingleObjectMixin, View):
    model = VendorOrganization

    def post(self, request, pk):
        organization = self.get_object()
        form = VendorDecisionForm(request.POST)
        if not form.is_valid():
            messages.error(request, f"Nothing changed: {' '.join(_form_errors(form))}")
            return redirect("vendors:platform-vendors")
        action, reason = form.cleaned_data["action"], form.cleaned_data["reason"]
        decide = {
            "approve": lambda: services.vendor_organization_approve(
                organization=organization, actor=request.user
            ),
            "reject": lambda: services.vendor_organization_reject(
                organization=organization, actor=request.user, reason=reason
            ),
            "suspend": lambda: services.vendor_organization_suspend(
                organization=organization, actor=request.user, reason=reason
            ),
        }[action]
        try:
            org = decide()
        except ValidationError as exc:
            messages.error(request, f"Nothing changed: {_errors(exc)}")
        else:
            messages.success(request, f"{org.name} is now {org.get_status_display().lower()}.")
        return redirect("vendors:platform-vendors")


def _form_errors(form) -> list[str]:
    return [str(e) for errors in form.errors.values() for e in errors]


# --- vendor team --------------------------------------------------------------------------


class VendorTeamView(ListPageMixin, VendorScopedMixin, ListView):
    """Members and their roles; administrators invite, change roles and remove."""

    model = VendorMembership
    template_name = "vendors/vendor_team.html"
    search_fields = ("user__email", "user__first_name", "user__last_name")
    search_placeholder = "Email or name"
    filters = (ChoiceFilter("role", "Role", options=VendorRole.choices),)
    ordering = ("user__email", "pk")
    list_noun = "members"
    empty_hint = "invite the first member below."

    def get_queryset(self):
        return super().get_queryset().select_related("user")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["invite_form"] = kwargs.get("invite_form") or VendorInviteForm()
        context["role_form"] = VendorRoleForm()
        return context


class VendorInviteView(VendorScopedMixin, View):
    write_capability = Capability.MANAGE

    def post(self, request):
        form = VendorInviteForm(request.POST)
        if form.is_valid():
            try:
                services.vendor_member_invite(
                    organization=self.organization,
                    email=form.cleaned_data["email"],
                    role=form.cleaned_data["role"],
                    actor=request.user,
                    base_url=request.build_absolute_uri("/"),
                )
            except ValidationError as exc:
                form.add_error(None, _errors(exc))
            else:
                messages.success(
                    request, f"Invitation sent to {form.cleaned_data['email'].lower()}."
                )
                return redirect("vendors:vendor-team")
        messages.error(request, f"Nobody invited: {' '.join(_form_errors(form))}")
        return redirect("vendors:vendor-team")


class VendorMemberRoleView(VendorScopedMixin, SingleObjectMixin, View):
    model = VendorMembership
    write_capability = Capability.MANAGE

    def post(self, request, pk):
        membership = self.get_object()
        form = VendorRoleForm(request.POST)
        if not form.is_valid():
            messages.error(request, f"Role unchanged: {' '.join(_form_errors(form))}")
            return redirect("vendors:vendor-team")
        try:
            services.vendor_member_role_change(
                membership=membership, role=form.cleaned_data["role"], actor=request.user
            )
        except ValidationError as exc:
            messages.error(request, f"Role unchanged: {_errors(exc)}")
        else:
            messages.success(request, f"{membership.user.email}'s role changed.")
        return redirect("vendors:vendor-team")


class VendorMemberRemoveView(VendorScopedMixin, SingleObjectMixin, View):
    model = VendorMembership
    write_capability = Capability.MANAGE

    def post(self, request, pk):
        membership = self.get_object()
        email = membership.user.email
        try:
            services.vendor_member_remove(membership=membership, actor=request.user)
        except ValidationError as exc:
            messages.error(request, f"Not removed: {_errors(exc)}")
        else:
            messages.success(request, f"{email} removed from the team.")
        if not VendorMembership.objects.filter(user=request.user).exists():
            return redirect("login")  # they removed themselves
        return redirect("vendors:vendor-team")


class VendorInviteAcceptView(TemplateView):
    """Public: the one-time link of an invitation; choosing a password signs the user in."""

    template_name = "vendors/vendor_invite_accept.html"

    def dispatch(self, request, uidb64, token):
        self.invited = services.vendor_invitation_user(uidb64=uidb64, token=token)
        if self.invited is None:
            return render(request, "vendors/vendor_invite_invalid.html", status=404)
        return super().dispatch(request, uidb64=uidb64, token=token)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["form"] = kwargs.get("form") or SetPasswordForm(self.invited)
        context["invited"] = self.invited
        return context

    def post(self, request, uidb64, token):
        form = SetPasswordForm(self.invited, request.POST)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form))
        user = form.save()  # a new password hash: the link stops working
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, "Welcome! Your password is set.")
        return redirect("vendors:vendor-home")


# --- vendor contacts ----------------------------------------------------------------------


class VendorContactListView(ListPageMixin, VendorScopedMixin, ListView):
    """Technical, business and security contacts; administrators edit."""

    model = VendorContact
    template_name = "vendors/vendor_contacts.html"
    search_fields = ("name", "email", "topic")
    search_placeholder = "Name, email or topic"
    filters = (ChoiceFilter("kind", "Kind", options=ContactKind.choices),)
    ordering = ("kind", "name", "pk")
    list_noun = "contacts"
    empty_hint = "administrators add them below."

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["form"] = kwargs.get("form") or VendorContactForm()
        return context

    def post(self, request):
        form = VendorContactForm(request.POST)
        if form.is_valid():
            try:
                services.vendor_contact_save(
                    organization=self.organization, actor=request.user, **form.cleaned_data
                )
            except ValidationError as exc:
                form.add_error(None, _errors(exc))
            else:
                messages.success(request, "Contact added.")
                return redirect("vendors:vendor-contacts")
        self.object_list = self.get_queryset()
        return self.render_to_response(self.get_context_data(form=form), status=400)


class VendorContactEditView(VendorScopedMixin, SingleObjectMixin, TemplateView):
    model = VendorContact
    template_name = "vendors/vendor_contact_form.html"
    capability = Capability.MANAGE

    def get(self, request, pk):
        self.object = self.get_object()
        return self.render_to_response(
            self.get_context_data(form=VendorContactForm(instance=self.object))
        )

    def post(self, request, pk):
        self.object = self.get_object()
        form = VendorContactForm(request.POST)
        if form.is_valid():
            try:
                services.vendor_contact_save(
                    organization=self.organization,
                    actor=request.user,
                    contact=self.object,
                    **form.cleaned_data,
                )
            except ValidationError as exc:
                form.add_error(None, _errors(exc))
            else:
                messages.success(request, "Contact saved.")
                return redirect("vendors:vendor-contacts")
        return self.render_to_response(self.get_context_data(form=form), status=400)


class VendorContactDeleteView(VendorScopedMixin, SingleObjectMixin, View):
    model = VendorContact
    write_capability = Capability.MANAGE

    def post(self, request, pk):
        services.vendor_contact_delete(contact=self.get_object(), actor=request.user)
        messages.success(request, "Contact deleted.")
        return redirect("vendors:vendor-contacts")


# --- vendor side ---------------------------------------------------------------------------


class VendorSignupView(FormView):
    """Public: a new organisation (pending) and its first administrator."""

    template_name = "vendors/signup.html"
    form_class = VendorSignupForm

    def form_valid(self, form):
        try:
            membership = services.vendor_signup(
                name=form.cleaned_data["organization"],
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
                website=form.cleaned_data["website"],
            )
        except ValidationError as exc:
            form.add_error(None, _errors(exc))
            return self.form_invalid(form)
        login(self.request, membership.user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("vendors:vendor-home")


class VendorHomeView(VendorScopedMixin, ListView):
    model = VendorApplication
    template_name = "vendors/vendor_home.html"

    def get_queryset(self):
        return (
            super().get_queryset().select_related("program", "program__utility", "sandbox_program")
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["organization"] = self.organization
        context["products"] = ProductModel.objects.filter(organization=self.organization)
        context["onboarding"] = steps = vendor_onboarding(organization=self.organization)
        context["onboarding_done"] = sum(step.done for step in steps)
        context["apply_form"] = ApplicationForm()
        context["product_form"] = ProductModelForm()
        return context


class VendorApplyView(VendorScopedMixin, View):
    write_capability = Capability.MANAGE

    def post(self, request):
        form = ApplicationForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Choose a program.")
            return redirect("vendors:vendor-home")
        try:
            application = services.application_create(
                organization=self.organization,
                program=form.cleaned_data["program"],
                actor=request.user,
            )
        except ValidationError as exc:
            messages.error(request, _errors(exc))
            return redirect("vendors:vendor-home")
        return redirect("vendors:vendor-application", pk=application.pk)


class VendorProductCreateView(VendorScopedMixin, View):
    write_capability = Capability.MANAGE

    def post(self, request):
        form = ProductModelForm(request.POST)
        if form.is_valid():
            try:
                services.vendor_product_create(
                    organization=self.organization, actor=request.user, **form.cleaned_data
                )
            except ValidationError as exc:
                messages.error(request, f"Product not added: {_errors(exc)}")
            else:
                messages.success(request, "Product added.")
        else:
            messages.error(request, f"Product not added: {form.errors.as_text()}")
        return redirect("vendors:vendor-home")


class VendorApplicationView(VendorScopedMixin, DetailView):
    model = VendorApplication
    template_name = "vendors/vendor_application.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        application = self.object
        context["certificates"] = application.certificates.all()
        context["runs"] = application.runs.all()[:50]
        context["certificate_form"] = CertificateForm()
        context["run_form"] = RunForm()
        context["procedures"] = list(engine().procedures.values())
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
            return redirect("vendors:vendor-application", pk=application.pk)
        response = render(
            request,
            "vendors/certificate_issued.html",
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
            return redirect("vendors:vendor-application", pk=application.pk)
        try:
            run = services.conformance_run_launch(
                application=application,
                procedures=form.cleaned_data["procedures"] or None,
                time_scale=form.cleaned_data["time_scale"],
                parameters=form.cleaned_data["parameters"] or None,
                actor=request.user,
            )
        except ValidationError as exc:
            messages.error(request, _errors(exc))
            return redirect("vendors:vendor-application", pk=application.pk)
        return redirect("vendors:vendor-run", pk=run.pk)


class _RunMixin:
    model = ConformanceRun

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        run = self.object
        procedures = engine().procedures
        context["rows"] = [
            {"key": k, "procedure": procedures.get(k), **run.results.get(k, {})}
            for k in run.procedures
        ]
        context["timeline"] = engine().run_timeline(run)[:500]
        return context


class VendorRunView(VendorScopedMixin, _RunMixin, DetailView):
    organization_path = "application__organization"
    template_name = "vendors/run_detail.html"

    def get_template_names(self):
        if self.request.headers.get("HX-Request"):
            return ["vendors/_run_progress.html"]
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
    body = json.dumps(engine().run_report(run), indent=2)
    response = HttpResponse(body, content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="conformance-run-{run.pk}.json"'
    return response


# Evidence rows shown per procedure in the HTML report; the full timeline is in the JSON.
REPORT_EXCERPT_ROWS = 20


def report_html_response(run: ConformanceRun) -> HttpResponse:
    """The report as one self-contained HTML file (inline CSS, no scripts, no links out)."""
    report = engine().run_report(run)
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
        "vendors/report.html",
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
    template_name = "vendors/application_list.html"
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
    template_name = "vendors/application_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["certificates"] = self.object.certificates.all()
        context["runs"] = self.object.runs.all()[:50]
        context["products"] = ProductModel.objects.filter(organization=self.object.organization)
        context["can_approve"] = RunApproveView.permits(self.request, "POST")
        return context


class RunDetailView(UtilityScopedMixin, _RunMixin, DetailView):
    template_name = "vendors/run_detail.html"

    def get_template_names(self):
        if self.request.headers.get("HX-Request"):
            return ["vendors/_run_progress.html"]
        return [self.template_name]


class RunReportView(UtilityDownloadMixin, SingleObjectMixin, View):
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
            rows = services.application_approve(
                application=run.application, run=run, actor=request.user
            )
        except ValidationError as exc:
            messages.error(request, _errors(exc))
        else:
            messages.success(request, f"Approved; {len(rows)} product(s) qualified.")
        return redirect(reverse("vendors:application-detail", args=[run.application_id]))


class CertificateRevokeView(UtilityScopedMixin, SingleObjectMixin, View):
    model = IssuedCertificate

    def post(self, request, pk):
        certificate = self.get_object()
        if not certificate.revoked:
            certificate_revoke(certificate=certificate)
            messages.success(request, "Certificate revoked; it is refused from now on.")
        return redirect("vendors:application-detail", pk=certificate.application_id)


class ProceduresView(TemplateView):
    """Public list of procedures and their pass criteria."""

    template_name = "vendors/procedures.html"

    def get_context_data(self, **kwargs):
        return {
            **super().get_context_data(**kwargs),
            "procedures": list(engine().procedures.values()),
        }
