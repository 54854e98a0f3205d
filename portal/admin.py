from django.contrib import admin

from portal.models import Alert, AlertRule, Heartbeat, PasswordResetRequest

admin.site.site_header = "Reservoir operations"
admin.site.site_title = "Reservoir"


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    list_display = ["source", "at", "hostname"]
    list_filter = ["source"]
    search_fields = ["hostname"]
    readonly_fields = ["source", "at", "hostname"]


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    list_display = [
        "kind",
        "utility",
        "program",
        "threshold_min",
        "threshold_pct",
        "email",
        "enabled",
    ]
    list_filter = ["utility", "kind", "enabled"]
    search_fields = ["program__name"]


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ["message", "utility", "kind", "status", "opened_at", "acknowledged_by"]
    list_filter = ["utility", "kind", "status"]
    search_fields = ["message", "subject_key"]
    date_hierarchy = "opened_at"
    raw_id_fields = ["acknowledged_by"]


@admin.register(PasswordResetRequest)
class PasswordResetRequestAdmin(admin.ModelAdmin):
    list_display = ["email", "address", "at"]
    list_filter = ["at"]
    search_fields = ["email", "address"]
    readonly_fields = ["email", "address", "at"]
