from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view

from devices.api.serializers import ConnectorSiteSerializer, DeviceSerializer
from devices.choices import Health
from devices.models import ConnectorSite, Device
from devices.selectors import device_search
from tenancy.api.filters import choice_param
from tenancy.api.viewsets import TenantModelViewSet, TenantReadOnlyViewSet

DEVICE_FILTERS = ("health", "vendor_name", "state", "zip_code", "q")


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("health", enum=Health.values),
            OpenApiParameter("vendor_name"),
            OpenApiParameter("state"),
            OpenApiParameter("zip_code", description="Prefix."),
            OpenApiParameter("q", description="Prefix of a serial, an LFDI or a ZIP code."),
        ]
    )
)
class DeviceViewSet(TenantReadOnlyViewSet):
    """The fleet, read-only, with health computed in SQL and the portal's filters."""

    queryset = Device.objects.all()
    serializer_class = DeviceSerializer

    def get_queryset(self):
        params = self.request.query_params
        # PostgreSQL refuses NUL in a string parameter; no stored value holds one anyway.
        filters = {k: params[k].replace("\x00", "") for k in DEVICE_FILTERS if params.get(k)}
        if self.action != "list":
            filters = {}
        else:
            choice_param(params, "health", Health.values)
        utility = getattr(self.request, "utility", None)
        if utility is None:
            return Device.objects.none()
        return (
            device_search(utility=utility, **filters)
            .select_related("connector_site")
            .order_by("vendor_name", "serial", "id")
        )


class ConnectorSiteViewSet(TenantModelViewSet):
    """Modbus sites: program managers and operators add and edit them; polling fills status."""

    queryset = ConnectorSite.objects.all()
    serializer_class = ConnectorSiteSerializer
