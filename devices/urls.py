from django.urls import path

from devices import views

app_name = "devices"

urlpatterns = [
    path("", views.DeviceListView.as_view(), name="device-list"),
    path("<int:pk>/", views.DeviceDetailView.as_view(), name="device-detail"),
]
