from django.urls import path

from enrollment import views, views_opt_out, views_public

app_name = "enrollment"

urlpatterns = [
    path("enroll/<slug:utility_slug>/<slug:program_slug>/", views_public.enroll_start,
         name="enroll"),
    path("enroll/<slug:utility_slug>/<slug:program_slug>/step/<int:step>/",
         views_public.enroll_step, name="enroll-step"),
    path("opt-out/<str:token>/", views_opt_out.opt_out_link, name="opt-out-link"),
    path("my/", views.my_enrollments, name="my"),
    path("my/opt-out/", views.my_opt_out, name="my-opt-out"),
    path("my/withdraw/", views.my_withdraw, name="my-withdraw"),
    path("customers/", views.CustomerListView.as_view(), name="customer-list"),
    path("enrollments/", views.EnrollmentQueueView.as_view(), name="queue"),
    path("enrollments/bulk/", views.EnrollmentBulkView.as_view(), name="bulk"),
    path("enrollments/export.csv", views.EnrollmentExportView.as_view(), name="export"),
    path("enrollments/funnel/", views.EnrollmentFunnelView.as_view(), name="funnel"),
    path("enrollments/whitelist/", views.WhitelistImportView.as_view(), name="whitelist-import"),
    path("enrollments/<int:pk>/", views.EnrollmentDetailView.as_view(), name="detail"),
    path("enrollments/<int:pk>/decide/", views.EnrollmentDecideView.as_view(), name="decide"),
    path("enrollments/<int:pk>/attach-device/", views.EnrollmentAttachDeviceView.as_view(),
         name="attach-device"),
]  # fmt: skip
