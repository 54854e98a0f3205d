from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.alerts import alert_acknowledge, alert_resolve
from portal.api.serializers import (
    AlertSerializer,
    BrandSerializer,
    MemberSerializer,
    MeSerializer,
    TerritoryAreaSerializer,
    UtilitySerializer,
)
from portal.models import Alert, AlertStatus
from tenancy.api.filters import choice_param
from tenancy.api.viewsets import TenantModelViewSet, TenantReadOnlyViewSet, TenantScopedMixin
from tenancy.choices import Role
from tenancy.models import Brand, Membership, TerritoryArea, Utility


class MeView(TenantScopedMixin, APIView):
    """Who the caller is, their memberships and the utility this request acts for."""

    @extend_schema(responses=MeSerializer)
    def get(self, request):
        return Response(MeSerializer(request.user, context={"request": request}).data)


class UtilityViewSet(TenantReadOnlyViewSet):
    """The active utility (one row): the scope every other endpoint works in."""

    queryset = Utility.objects.all()
    serializer_class = UtilitySerializer
    lookup_field = "slug"


class BrandViewSet(TenantModelViewSet):
    queryset = Brand.objects.all()
    serializer_class = BrandSerializer
    write_roles = {Role.PROGRAM_MANAGER}


class TerritoryAreaViewSet(TenantModelViewSet):
    queryset = TerritoryArea.objects.all()
    serializer_class = TerritoryAreaSerializer
    write_roles = {Role.PROGRAM_MANAGER}


class MemberViewSet(TenantReadOnlyViewSet):
    queryset = Membership.objects.select_related("user")
    serializer_class = MemberSerializer


class AlertViewSet(TenantReadOnlyViewSet):
    """Alerts of the caller's utility; managers and operators acknowledge and resolve them."""

    queryset = Alert.objects.all()
    serializer_class = AlertSerializer

    @extend_schema(parameters=[OpenApiParameter("status", str, enum=AlertStatus.values)])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_queryset(self):
        queryset = super().get_queryset()
        params = self.request.query_params
        if self.action == "list" and (status := choice_param(params, "status", AlertStatus.values)):
            queryset = queryset.filter(status=status)
        return queryset

    def _act(self, service):
        if self.request.membership.role not in self.write_roles:
            self.permission_denied(self.request, message="Your role cannot change alerts.")
        alert = self.get_object()
        try:
            service(alert=alert, user=self.request.user)
        except DjangoValidationError as exc:
            raise ValidationError({"detail": exc.messages}) from exc
        return Response(AlertSerializer(alert).data)

    @extend_schema(request=None, responses=AlertSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        return self._act(alert_acknowledge)

    @extend_schema(request=None, responses=AlertSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        return self._act(alert_resolve)
