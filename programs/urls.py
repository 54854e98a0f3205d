from django.urls import path

from programs import views

app_name = "programs"

urlpatterns = [
    path("programs/", views.ProgramListView.as_view(), name="program-list"),
    path("programs/new/", views.ProgramCreateView.as_view(), name="program-create"),
    path("programs/<int:pk>/", views.ProgramDetailView.as_view(), name="program-detail"),
    path("programs/<int:pk>/edit/", views.ProgramUpdateView.as_view(), name="program-update"),
    path(
        "programs/<int:pk>/add/<slug:part>/",
        views.ProgramPartAddView.as_view(),
        name="program-part-add",
    ),
    path(
        "programs/<int:pk>/site-envelopes/",
        views.SiteEnvelopeListView.as_view(),
        name="site-envelope-list",
    ),
    path("programs/<int:pk>/curves/new/", views.CurveCreateView.as_view(), name="curve-create"),
    path("curves/<int:pk>/", views.CurveUpdateView.as_view(), name="curve-update"),
    path("curves/<int:pk>/delete/", views.CurveDeleteView.as_view(), name="curve-delete"),
    path("groups/<int:pk>/", views.DispatchGroupUpdateView.as_view(), name="group-update"),
    path(
        "groups/<int:pk>/attach-device/",
        views.DispatchGroupAttachDeviceView.as_view(),
        name="group-attach-device",
    ),
    path(
        "groups/<int:pk>/default-control/",
        views.DefaultControlView.as_view(),
        name="group-default-control",
    ),
    path(
        "groups/<int:pk>/default-control/clear/",
        views.DefaultControlClearView.as_view(),
        name="group-default-control-clear",
    ),
    path("events/", views.EventCalendarView.as_view(), name="event-calendar"),
    path("events/all/", views.EventListView.as_view(), name="event-list"),
    path("events/new/", views.EventCreateView.as_view(), name="event-create"),
    path("events/<int:pk>/", views.EventDetailView.as_view(), name="event-detail"),
    path("events/<int:pk>/cancel/", views.EventCancelView.as_view(), name="event-cancel"),
    path("events/<int:pk>/devices.csv", views.EventDevicesCsvView.as_view(), name="event-csv"),
]
