from django.urls import path

from devices.connectors import views

app_name = "connectors"

urlpatterns = [
    path("", views.ConnectorSiteListView.as_view(), name="site-list"),
    path("new/", views.ConnectorSiteCreateView.as_view(), name="site-create"),
    path("<int:pk>/", views.ConnectorSiteUpdateView.as_view(), name="site-update"),
    path("<int:pk>/test/", views.ConnectorSiteTestView.as_view(), name="site-test"),
]
