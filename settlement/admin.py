from django.contrib import admin

from settlement.models import (
    Adjustment,
    CustomerPayment,
    EventResult,
    Payee,
    PaymentBatch,
    PaymentLine,
    ReconciliationRun,
    SeasonSettlement,
    SettlementRules,
)


@admin.register(SettlementRules)
class SettlementRulesAdmin(admin.ModelAdmin):
    list_display = ["program", "utility", "baseline_method", "kw_season_rate", "rounding"]
    list_filter = ["utility", "baseline_method", "participation_period", "rounding"]
    search_fields = ["program__name"]


@admin.register(Payee)
class PayeeAdmin(admin.ModelAdmin):
    list_display = ["account_number", "device", "customer", "utility"]
    list_filter = ["utility"]
    search_fields = ["account_number", "device__serial", "customer__name"]
    raw_id_fields = ["device", "customer"]


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(admin.ModelAdmin):
    list_display = ["event", "version", "is_current", "baseline_method", "created_at", "utility"]
    list_filter = ["utility", "is_current", "baseline_method"]
    search_fields = ["event__mrid", "inputs_digest"]
    raw_id_fields = ["event"]


@admin.register(EventResult)
class EventResultAdmin(admin.ModelAdmin):
    list_display = [
        "device",
        "run",
        "committed_w",
        "delivered_w",
        "performance_factor",
        "treatment",
        "counted",
    ]
    list_filter = ["utility", "treatment", "counted"]
    search_fields = ["device__serial"]
    raw_id_fields = ["run", "device"]
    show_full_result_count = False


@admin.register(SeasonSettlement)
class SeasonSettlementAdmin(admin.ModelAdmin):
    list_display = ["program", "season", "version", "computed_at", "event_count", "total"]
    list_filter = ["utility", "program"]
    search_fields = ["program__name", "season__name"]


@admin.register(PaymentBatch)
class PaymentBatchAdmin(admin.ModelAdmin):
    list_display = ["period", "program", "status", "created_at", "approved_at", "approved_by"]
    list_filter = ["utility", "status", "program"]
    search_fields = ["period", "program__name"]


class _FinalRowAdmin(admin.ModelAdmin):
    """Payments are computed by services; operators read them here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CustomerPayment)
class CustomerPaymentAdmin(_FinalRowAdmin):
    list_display = ["account_number", "device", "settlement", "batch", "amount"]
    list_filter = ["utility", "settlement__program"]
    search_fields = ["account_number", "device__serial"]
    show_full_result_count = False


@admin.register(PaymentLine)
class PaymentLineAdmin(_FinalRowAdmin):
    list_display = ["explanation", "kind", "amount", "payment"]
    list_filter = ["utility", "kind"]
    search_fields = ["explanation", "payment__account_number"]
    show_full_result_count = False


@admin.register(Adjustment)
class AdjustmentAdmin(_FinalRowAdmin):
    list_display = ["account_number", "device", "batch", "amount", "reason", "created_at"]
    list_filter = ["utility", "batch__status"]
    search_fields = ["account_number", "reason", "device__serial"]
