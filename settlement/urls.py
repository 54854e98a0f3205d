from django.urls import path

from settlement import views

app_name = "settlement"

urlpatterns = [
    path("", views.SettlementHomeView.as_view(), name="home"),
    path("events/<int:pk>/", views.EventPerformanceView.as_view(), name="event"),
    path("events/<int:pk>/recompute/", views.EventRecomputeView.as_view(), name="recompute"),
    path("programs/<int:pk>/", views.ProgramDashboardView.as_view(), name="program"),
    path("seasons/<int:pk>/settle/", views.SeasonSettleView.as_view(), name="season-settle"),
    path("settlements/<int:pk>/", views.SettlementDetailView.as_view(), name="settlement"),
    path("settlements/<int:pk>/batch/", views.BatchCreateView.as_view(), name="batch-create"),
    path("batches/", views.PaymentBatchListView.as_view(), name="batch-list"),
    path("batches/<int:pk>/", views.PaymentBatchDetailView.as_view(), name="batch"),
    path(
        "batches/<int:pk>/approve/", views.PaymentBatchApproveView.as_view(), name="batch-approve"
    ),
    path("batches/<int:pk>/payments.csv", views.PaymentFileView.as_view(), name="batch-csv"),
]
