"""Who a vendor user is: their organisation, their role's capabilities, and the one place
vendor pages are narrowed.

Fail closed: a user without a vendor membership gets 404 on every vendor page, and a
vendor user asking for another organisation's row gets 404 too, exactly like a missing one.
A member whose role lacks a capability gets 403 (the page exists; they may not do that).
"""

from enum import StrEnum

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404

from tenancy.permissions import SAFE_METHODS
from vendors.choices import VendorRole, VendorStatus
from vendors.models import VendorMembership, VendorOrganization
from vendors.selectors import vendor_membership


class Capability(StrEnum):
    """What a vendor user may do."""

    VIEW = "view"  # applications, certificates, runs, reports, team, contacts
    TEST = "test"  # issue certificates, start conformance runs
    MANAGE = "manage"  # team, contacts, products, applications


# The one table of who may do what; views and services both ask it.
ROLE_CAPABILITIES: dict[str, frozenset[Capability]] = {
    VendorRole.VIEWER: frozenset({Capability.VIEW}),
    VendorRole.ENGINEER: frozenset({Capability.VIEW, Capability.TEST}),
    VendorRole.ADMIN: frozenset({Capability.VIEW, Capability.TEST, Capability.MANAGE}),
}

CAPABILITY_REFUSALS = {
    Capability.VIEW: "Your role cannot see this organisation's pages.",
    Capability.TEST: "Your role is read-only: ask an engineer or administrator.",
    Capability.MANAGE: "Only your organisation's administrators can do this.",
}

STATUS_REFUSALS = {
    VendorStatus.PENDING: (
        "Your organisation is awaiting approval by the platform operators; certificates "
        "and conformance runs become available once it is approved."
    ),
    VendorStatus.REJECTED: "Your organisation's registration was rejected",
    VendorStatus.SUSPENDED: "Your organisation is suspended",
}


def role_can(role: str, capability: Capability) -> bool:
    return capability in ROLE_CAPABILITIES.get(role, frozenset())


def vendor_capability_check(*, user, organization: VendorOrganization, capability) -> None:
    """PermissionDenied unless `user` is a member of `organization` whose role may do it."""
    role = (
        VendorMembership.objects.filter(organization=organization, user=user)
        .values_list("role", flat=True)
        .first()
        if user is not None and user.is_authenticated
        else None
    )
    if role is None or not role_can(role, capability):
        raise PermissionDenied(CAPABILITY_REFUSALS[Capability(capability)])


def organization_refusal(organization: VendorOrganization) -> str:
    """Why the organisation may not get certificates or run procedures ('' if it may)."""
    if organization.status == VendorStatus.APPROVED:
        return ""
    message = STATUS_REFUSALS.get(organization.status, "Your organisation is not approved")
    if organization.status != VendorStatus.PENDING:
        reason = organization.status_reason.strip()
        message += f": {reason}." if reason else "."
        message += " Certificates and conformance runs are unavailable."
    return message


def _request_vendor_membership(request) -> VendorMembership | None:
    """The user's vendor membership, looked up once per request (links ask many times)."""
    if not hasattr(request, "_vendor_membership"):
        request._vendor_membership = vendor_membership(request.user)
    return request._vendor_membership


class VendorScopedMixin(LoginRequiredMixin):
    """Pages for vendor users; `organization_path` names the row's path to its organisation.

    `capability` is what the page needs for GET; `write_capability` for other methods.
    """

    organization_path = "organization"
    organization: VendorOrganization
    capability = Capability.VIEW
    write_capability = Capability.MANAGE

    @classmethod
    def needs(cls, method: str) -> Capability:
        return cls.capability if method in SAFE_METHODS else cls.write_capability

    @classmethod
    def permits(cls, request, method: str = "GET") -> bool:
        """What links and buttons ask (``tenancy.permissions``); ``dispatch`` enforces it."""
        membership = _request_vendor_membership(request)
        return membership is not None and role_can(membership.role, cls.needs(method))

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        membership = _request_vendor_membership(request)
        if membership is None:
            raise Http404("No vendor organisation.")
        self.membership = membership
        self.organization = membership.organization
        needed = self.needs(request.method)
        if not role_can(membership.role, needed):
            raise PermissionDenied(CAPABILITY_REFUSALS[Capability(needed)])
        return super().dispatch(request, *args, **kwargs)

    def can(self, capability) -> bool:
        return role_can(self.membership.role, capability)

    def get_queryset(self):
        queryset = super().get_queryset()
        return queryset.filter(**{self.organization_path: self.organization})

    def get_object(self, queryset=None):
        queryset = self.get_queryset() if queryset is None else queryset
        obj = queryset.filter(pk=self.kwargs.get("pk")).first()
        if obj is None:
            raise Http404("Not found.")
        return obj

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["membership"] = self.membership
        context["organization"] = self.organization
        context["organization_refusal"] = organization_refusal(self.organization)
        context["can_test"] = self.can(Capability.TEST)
        context["can_manage"] = self.can(Capability.MANAGE)
        return context
