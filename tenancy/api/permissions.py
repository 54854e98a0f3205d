from rest_framework.permissions import SAFE_METHODS, BasePermission

from tenancy.choices import ALL_ROLES, WRITE_ROLES


class HasUtilityRole(BasePermission):
    """A member of the active utility; writes need one of the view's ``write_roles``."""

    message = "You have no role at this utility that allows this."

    def has_permission(self, request, view):
        membership = getattr(request, "membership", None)
        if membership is None:
            return False
        if membership.role not in getattr(view, "allowed_roles", ALL_ROLES):
            return False
        if request.method in SAFE_METHODS:
            return True
        return membership.role in getattr(view, "write_roles", WRITE_ROLES)
