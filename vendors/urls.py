"""Vendor pages: operators' approval, the vendor portal (team, contacts, products, applications,
certificates, conformance runs) and the utility's review of applications and runs."""

from django.urls import path

from vendors import views

app_name = "vendors"

urlpatterns = [
    path("platform/vendors/", views.PlatformVendorListView.as_view(), name="platform-vendors"),
    path(
        "platform/vendors/<int:pk>/decide/",
        views.PlatformVendorDecideView.as_view(),
        name="platform-vendor-decide",
    ),
    path("vendor/team/", views.VendorTeamView.as_view(), name="vendor-team"),
    path("vendor/team/invite/", views.VendorInviteView.as_view(), name="vendor-team-invite"),
    path(
        "vendor/team/<int:pk>/role/", views.VendorMemberRoleView.as_view(), name="vendor-team-role"
    ),
    path(
        "vendor/team/<int:pk>/remove/",
        views.VendorMemberRemoveView.as_view(),
        name="vendor-team-remove",
    ),
    path(
        "vendor/invite/<str:uidb64>/<str:token>/",
        views.VendorInviteAcceptView.as_view(),
        name="vendor-invite",
    ),
    path("vendor/contacts/", views.VendorContactListView.as_view(), name="vendor-contacts"),
    path(
        "vendor/contacts/<int:pk>/edit/",
        views.VendorContactEditView.as_view(),
        name="vendor-contact-edit",
    ),
    path(
        "vendor/contacts/<int:pk>/delete/",
        views.VendorContactDeleteView.as_view(),
        name="vendor-contact-delete",
    ),
    path("vendor/signup/", views.VendorSignupView.as_view(), name="vendor-signup"),
    path("vendor/procedures/", views.ProceduresView.as_view(), name="procedures"),
    path("vendor/", views.VendorHomeView.as_view(), name="vendor-home"),
    path("vendor/apply/", views.VendorApplyView.as_view(), name="vendor-apply"),
    path("vendor/products/", views.VendorProductCreateView.as_view(), name="vendor-product"),
    path(
        "vendor/applications/<int:pk>/",
        views.VendorApplicationView.as_view(),
        name="vendor-application",
    ),
    path(
        "vendor/applications/<int:pk>/certificate/",
        views.VendorCertificateIssueView.as_view(),
        name="vendor-certificate",
    ),
    path(
        "vendor/applications/<int:pk>/run/",
        views.VendorRunStartView.as_view(),
        name="vendor-run-start",
    ),
    path("vendor/runs/<int:pk>/", views.VendorRunView.as_view(), name="vendor-run"),
    path(
        "vendor/runs/<int:pk>/report/",
        views.VendorRunReportView.as_view(),
        name="vendor-run-report",
    ),
    path(
        "vendor/runs/<int:pk>/report.html",
        views.VendorRunReportHtmlView.as_view(),
        name="vendor-run-report-html",
    ),
    path("conformance/", views.ApplicationListView.as_view(), name="application-list"),
    path(
        "conformance/applications/<int:pk>/",
        views.ApplicationDetailView.as_view(),
        name="application-detail",
    ),
    path("conformance/runs/<int:pk>/", views.RunDetailView.as_view(), name="run-detail"),
    path("conformance/runs/<int:pk>/report/", views.RunReportView.as_view(), name="run-report"),
    path(
        "conformance/runs/<int:pk>/report.html",
        views.RunReportHtmlView.as_view(),
        name="run-report-html",
    ),
    path("conformance/runs/<int:pk>/approve/", views.RunApproveView.as_view(), name="run-approve"),
    path(
        "conformance/certificates/<int:pk>/revoke/",
        views.CertificateRevokeView.as_view(),
        name="certificate-revoke",
    ),
]
