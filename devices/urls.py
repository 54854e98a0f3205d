from django.urls import path

from devices import views

app_name = "devices"

urlpatterns = [
    path("", views.DeviceListView.as_view(), name="device-list"),
    path("<int:pk>/", views.DeviceDetailView.as_view(), name="device-detail"),
    path("sites/", views.ConnectorSiteListView.as_view(), name="site-list"),
    path("sites/new/", views.ConnectorSiteCreateView.as_view(), name="site-create"),
    path("sites/<int:pk>/", views.ConnectorSiteUpdateView.as_view(), name="site-update"),
    path("sites/<int:pk>/test/", views.ConnectorSiteTestView.as_view(), name="site-test"),
]
