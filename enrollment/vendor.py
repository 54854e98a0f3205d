"""Who a vendor user is: their organisation, and the one place vendor pages are narrowed.

Fail closed: a user without a vendor membership gets 404 on every vendor page, and a
vendor user asking for another organisation's row gets 404 too, exactly like a missing one.
"""

from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404

from enrollment.models import VendorMembership, VendorOrganization


def vendor_membership(user) -> VendorMembership | None:
    if not user.is_authenticated:
        return None
    return (
        VendorMembership.objects.select_related("organization")
        .filter(user=user)
        .order_by("pk")
        .first()
    )


class VendorScopedMixin(LoginRequiredMixin):
    """Pages for vendor users; `organization_path` names the row's path to its organisation."""

    organization_path = "organization"
    organization: VendorOrganization

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        membership = vendor_membership(request.user)
        if membership is None:
            raise Http404("No vendor organisation.")
        self.membership = membership
        self.organization = membership.organization
        return super().dispatch(request, *args, **kwargs)

    def get_queryset(self):
        queryset = super().get_queryset()
        return queryset.filter(**{self.organization_path: self.organization})

    def get_object(self, queryset=None):
        queryset = self.get_queryset() if queryset is None else queryset
        obj = queryset.filter(pk=self.kwargs.get("pk")).first()
        if obj is None:
            raise Http404("Not found.")
        return obj
