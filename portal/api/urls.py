"""``/api/v1/``: one router; later apps register their viewsets here."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from devices.api.views import ConnectorSiteViewSet, DeviceViewSet
from enrollment.api.views import EnrollmentViewSet
from portal.api import views
from portal.api.docs import ApiDocsView, ApiSchemaView
from portal.security import ApiTokenView
from programs.api import views as programs
from protocol.api.views import ROUTES as SEP2_ROUTES
from settlement.api import views as settlement_views
from vendors.api.urls import ROUTES as VENDOR_ROUTES

router = DefaultRouter()
router.register("utilities", views.UtilityViewSet, basename="utility")
router.register("brands", views.BrandViewSet, basename="brand")
router.register("territory", views.TerritoryAreaViewSet, basename="territory")
router.register("members", views.MemberViewSet, basename="member")
router.register("enrollments", EnrollmentViewSet, basename="enrollment")
router.register("alerts", views.AlertViewSet, basename="alert")
router.register("programs", programs.ProgramViewSet, basename="program")
router.register("dispatch-groups", programs.DispatchGroupViewSet, basename="dispatch-group")
router.register("events", programs.EventViewSet, basename="event")
router.register("curves", programs.CurveViewSet, basename="curve")
router.register(
    r"programs/(?P<program_id>[0-9]+)/site-envelopes",
    programs.SiteEnvelopeViewSet,
    basename="site-envelope",
)
router.register("settlements", settlement_views.SeasonSettlementViewSet, basename="settlement")
router.register("event-results", settlement_views.EventResultViewSet, basename="event-result")
router.register("payment-batches", settlement_views.PaymentBatchViewSet, basename="payment-batch")
router.register("devices", DeviceViewSet, basename="device")
router.register("connector-sites", ConnectorSiteViewSet, basename="connector-site")
for prefix, viewset, basename in [*VENDOR_ROUTES, *SEP2_ROUTES]:
    router.register(prefix, viewset, basename=basename)

urlpatterns = [
    path("me/", views.MeView.as_view(), name="api-me"),
    path("auth/token/", ApiTokenView.as_view(), name="api-token"),
    path("schema/", ApiSchemaView.as_view(), name="api-schema"),
    # The split view serves its start-up script as a file: no inline script under the CSP.
    path("docs/", ApiDocsView.as_view(url_name="api-schema"), name="api-docs"),
    *router.urls,
]
