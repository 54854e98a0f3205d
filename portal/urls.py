"""Root URLconf: portal pages, auth, admin and the REST API. Later apps add theirs here."""

from django.contrib import admin
from django.urls import include, path

from portal import brand, controlroom, security, views

portal_patterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("switch-utility/", views.switch_utility, name="switch-utility"),
    path("status/", views.StatusView.as_view(), name="status"),
    path("control-room/", controlroom.ControlRoomView.as_view(), name="control-room"),
    path("control-room/data/", controlroom.ControlRoomDataView.as_view(), name="control-room-data"),
    path("my/credits/", views.my_credits, name="my-credits"),
    path("my/events/", views.my_events, name="my-events"),
    path("brand/<slug:utility_slug>.css", brand.brand_css, name="brand-css"),
    path("brand/<slug:utility_slug>/logo", brand.brand_logo, name="brand-logo"),
    path(
        "programs/<int:pk>/incentives/",
        views.ProgramIncentivesView.as_view(),
        name="program-incentives",
    ),
    path("alerts/", views.AlertListView.as_view(), name="alert-list"),
    path("alerts/<int:pk>/<slug:action>/", views.AlertActionView.as_view(), name="alert-action"),
    path("settings/", views.UtilitySettingsView.as_view(), name="utility-settings"),
    path("settings/brands/", views.BrandListView.as_view(), name="brand-list"),
    path("settings/brands/new/", views.BrandCreateView.as_view(), name="brand-create"),
    path("settings/brands/<int:pk>/", views.BrandUpdateView.as_view(), name="brand-update"),
    path(
        "settings/territory/new/",
        views.TerritoryAreaCreateView.as_view(),
        name="territory-create",
    ),
    path(
        "settings/territory/<int:pk>/delete/",
        views.TerritoryAreaDeleteView.as_view(),
        name="territory-delete",
    ),
]

handler403 = "portal.views.permission_denied"
handler404 = "portal.views.page_not_found"

urlpatterns = [
    path("", include((portal_patterns, "portal"))),
    path("", include("enrollment.urls")),
    path("", include("programs.urls")),
    path("devices/sites/", include("devices.connectors.urls")),
    path("devices/", include("devices.urls")),
    path(
        "accounts/password_reset/",
        security.RateLimitedPasswordResetView.as_view(),
        name="password_reset",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("portal.api.urls")),
    path("sep2/clients/", include("protocol.portal_urls")),
    path("", include("vendors.urls")),
    path("", include("protocol.urls")),
    path("settlement/", include("settlement.urls")),
]
