from django.urls import path

from enrollment import views, views_public, views_vendor

app_name = "enrollment"

urlpatterns = [
    path("enroll/<slug:utility_slug>/<slug:program_slug>/", views_public.enroll_start,
         name="enroll"),
    path("enroll/<slug:utility_slug>/<slug:program_slug>/step/<int:step>/",
         views_public.enroll_step, name="enroll-step"),
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
    path("platform/vendors/", views_vendor.PlatformVendorListView.as_view(),
         name="platform-vendors"),
    path("platform/vendors/<int:pk>/decide/", views_vendor.PlatformVendorDecideView.as_view(),
         name="platform-vendor-decide"),
    path("vendor/team/", views_vendor.VendorTeamView.as_view(), name="vendor-team"),
    path("vendor/team/invite/", views_vendor.VendorInviteView.as_view(), name="vendor-team-invite"),
    path("vendor/team/<int:pk>/role/", views_vendor.VendorMemberRoleView.as_view(),
         name="vendor-team-role"),
    path("vendor/team/<int:pk>/remove/", views_vendor.VendorMemberRemoveView.as_view(),
         name="vendor-team-remove"),
    path("vendor/invite/<str:uidb64>/<str:token>/", views_vendor.VendorInviteAcceptView.as_view(),
         name="vendor-invite"),
    path("vendor/contacts/", views_vendor.VendorContactListView.as_view(),
         name="vendor-contacts"),
    path("vendor/contacts/<int:pk>/edit/", views_vendor.VendorContactEditView.as_view(),
         name="vendor-contact-edit"),
    path("vendor/contacts/<int:pk>/delete/", views_vendor.VendorContactDeleteView.as_view(),
         name="vendor-contact-delete"),
]  # fmt: skip
