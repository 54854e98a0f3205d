"""Portal pages of the 2030.5 server (the wire paths are in protocol/urls.py)."""

from django.urls import path

from protocol import views

app_name = "protocol"

urlpatterns = [
    path("", views.ClientListView.as_view(), name="client-list"),
    path("end-devices/", views.EndDeviceListView.as_view(), name="end-device-list"),
    path("<int:pk>/revoke/", views.ClientRevokeView.as_view(), name="client-revoke"),
]
