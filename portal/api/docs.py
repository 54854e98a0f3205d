"""The API's description and its browsable docs, for the people who hold API access:
utility staff, vendor and aggregator users, and platform operators (never customers)."""

from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import BasePermission

from tenancy.selectors import memberships_for_user
from vendors.selectors import vendor_membership


def api_user(request) -> bool:
    user = request.user
    if not user.is_authenticated:
        return False
    # Token clients carry no session: their memberships are looked up for the user itself.
    if user.is_staff or memberships_for_user(user=user):
        return True
    return vendor_membership(user) is not None


class IsApiUser(BasePermission):
    message = "The API is for utility staff and vendors."

    def has_permission(self, request, view):
        return api_user(request)


class _ApiUserOnly:
    permission_classes = [IsApiUser]

    @classmethod
    def permits(cls, request, method: str = "GET") -> bool:
        return api_user(request)


class ApiSchemaView(_ApiUserOnly, SpectacularAPIView):
    pass


class ApiDocsView(_ApiUserOnly, SpectacularSwaggerSplitView):
    template_name = "portal/api_docs.html"  # the stock page's inline style moved to a file
