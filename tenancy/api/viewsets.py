"""API base classes: the API's single place where querysets are narrowed to a utility."""

from collections.abc import Collection

from django.db.models import ProtectedError, RestrictedError
from rest_framework import viewsets
from rest_framework.exceptions import APIException
from rest_framework.permissions import IsAuthenticated

from tenancy.api.permissions import HasUtilityRole
from tenancy.choices import ALL_ROLES, WRITE_ROLES
from tenancy.resolution import resolve_active_utility


class TenantScopedMixin:
    """Resolve the active utility after authentication, then scope every queryset to it.

    Token clients choose among their utilities with the ``X-Reservoir-Utility`` header
    (a slug); otherwise the session's choice or their first membership is used.
    """

    permission_classes = [IsAuthenticated, HasUtilityRole]
    allowed_roles: Collection[str] = ALL_ROLES
    write_roles: Collection[str] = WRITE_ROLES

    def initial(self, request, *args, **kwargs):
        # Authenticate first: token users are anonymous to the middleware.
        request.user  # noqa: B018
        resolve_active_utility(request._request, user=request.user)
        request.utility = request._request.utility
        request.membership = request._request.membership
        super().initial(request, *args, **kwargs)

    def get_queryset(self):
        return super().get_queryset().for_utility(getattr(self.request, "utility", None))

    def perform_create(self, serializer):
        serializer.save(utility=self.request.utility)

    def perform_destroy(self, instance):
        # History (events, payments) protects what it refers to: say so, never a 500.
        try:
            instance.delete()
        except (ProtectedError, RestrictedError) as exc:
            kinds = sorted({str(obj._meta.verbose_name_plural) for obj in exc.protected_objects})
            raise Conflict(
                f"This {instance._meta.verbose_name} cannot be deleted: "
                f"{', '.join(kinds)} still refer to it."
            ) from exc


class Conflict(APIException):
    status_code = 409
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


class TenantModelViewSet(TenantScopedMixin, viewsets.ModelViewSet):
    pass


class TenantReadOnlyViewSet(TenantScopedMixin, viewsets.ReadOnlyModelViewSet):
    pass
