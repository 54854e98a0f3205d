from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api.serializers import (
    BrandSerializer,
    MemberSerializer,
    MeSerializer,
    TerritoryAreaSerializer,
    UtilitySerializer,
)
from portal.api.viewsets import TenantModelViewSet, TenantReadOnlyViewSet, TenantScopedMixin
from portal.models import Brand, Membership, TerritoryArea, Utility
from portal.tenancy.choices import Role


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
