"""Vendor organisation pages: the operators' approval queue (platform staff), and the
vendor's own team and contacts (their organisation only, through VendorScopedMixin).

Every change goes through a service in enrollment.services, which re-checks the
actor's capability; the views only translate forms and errors.
"""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.mixins import LoginRequiredMixin, UserPassesTestMixin
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.views.generic import ListView, TemplateView
from django.views.generic.base import View
from django.views.generic.detail import SingleObjectMixin

from enrollment import services
from enrollment.choices import ContactKind, VendorKind, VendorRole, VendorStatus
from enrollment.forms import (
    VendorContactForm,
    VendorDecisionForm,
    VendorInviteForm,
    VendorRoleForm,
)
from enrollment.models import VendorContact, VendorMembership, VendorOrganization
from enrollment.vendor import Capability, VendorScopedMixin
from tenancy.lists import ChoiceFilter, ListPageMixin, search_q


def _errors(exc: ValidationError) -> str:
    return " ".join(exc.messages)


# --- platform operators ------------------------------------------------------------------


class PlatformStaffMixin(LoginRequiredMixin, UserPassesTestMixin):
    """Platform operators only (Django staff): 403 for everyone else who is signed in."""

    permission_denied_message = "Only platform operators can open this page."

    def test_func(self):
        return self.request.user.is_staff and self.request.user.is_active


class PlatformVendorListView(ListPageMixin, PlatformStaffMixin, ListView):
    """Every vendor organisation, newest first, with approve / reject / suspend."""

    model = VendorOrganization
    template_name = "enrollment/platform_vendors.html"
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
            return redirect("enrollment:platform-vendors")
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
        return redirect("enrollment:platform-vendors")


def _form_errors(form) -> list[str]:
    return [str(e) for errors in form.errors.values() for e in errors]


# --- vendor team --------------------------------------------------------------------------


class VendorTeamView(ListPageMixin, VendorScopedMixin, ListView):
    """Members and their roles; administrators invite, change roles and remove."""

    model = VendorMembership
    template_name = "enrollment/vendor_team.html"
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
                return redirect("enrollment:vendor-team")
        messages.error(request, f"Nobody invited: {' '.join(_form_errors(form))}")
        return redirect("enrollment:vendor-team")


class VendorMemberRoleView(VendorScopedMixin, SingleObjectMixin, View):
    model = VendorMembership
    write_capability = Capability.MANAGE

    def post(self, request, pk):
        membership = self.get_object()
        form = VendorRoleForm(request.POST)
        if not form.is_valid():
            messages.error(request, f"Role unchanged: {' '.join(_form_errors(form))}")
            return redirect("enrollment:vendor-team")
        try:
            services.vendor_member_role_change(
                membership=membership, role=form.cleaned_data["role"], actor=request.user
            )
        except ValidationError as exc:
            messages.error(request, f"Role unchanged: {_errors(exc)}")
        else:
            messages.success(request, f"{membership.user.email}'s role changed.")
        return redirect("enrollment:vendor-team")


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
        return redirect("enrollment:vendor-team")


class VendorInviteAcceptView(TemplateView):
    """Public: the one-time link of an invitation; choosing a password signs the user in."""

    template_name = "enrollment/vendor_invite_accept.html"

    def dispatch(self, request, uidb64, token):
        self.invited = services.vendor_invitation_user(uidb64=uidb64, token=token)
        if self.invited is None:
            return render(request, "enrollment/vendor_invite_invalid.html", status=404)
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
        return redirect("conformance:vendor-home")


# --- vendor contacts ----------------------------------------------------------------------


class VendorContactListView(ListPageMixin, VendorScopedMixin, ListView):
    """Technical, business and security contacts; administrators edit."""

    model = VendorContact
    template_name = "enrollment/vendor_contacts.html"
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
                return redirect("enrollment:vendor-contacts")
        self.object_list = self.get_queryset()
        return self.render_to_response(self.get_context_data(form=form), status=400)


class VendorContactEditView(VendorScopedMixin, SingleObjectMixin, TemplateView):
    model = VendorContact
    template_name = "enrollment/vendor_contact_form.html"
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
                return redirect("enrollment:vendor-contacts")
        return self.render_to_response(self.get_context_data(form=form), status=400)


class VendorContactDeleteView(VendorScopedMixin, SingleObjectMixin, View):
    model = VendorContact
    write_capability = Capability.MANAGE

    def post(self, request, pk):
        services.vendor_contact_delete(contact=self.get_object(), actor=request.user)
        messages.success(request, "Contact deleted.")
        return redirect("enrollment:vendor-contacts")
