from django.contrib import admin

from portal.models import Alert, AlertRule, Brand, Heartbeat, Membership, TerritoryArea, Utility

admin.site.site_header = "Reservoir operations"
admin.site.site_title = "Reservoir"


class BrandInline(admin.TabularInline):
    model = Brand
    extra = 0


class TerritoryAreaInline(admin.TabularInline):
    model = TerritoryArea
    extra = 0


@admin.register(Utility)
class UtilityAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "brand_name", "timezone", "created_at"]
    list_filter = ["timezone", "territory__state"]
    search_fields = ["name", "slug", "brand_name"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [BrandInline, TerritoryAreaInline]


@admin.register(Brand)
class BrandAdmin(admin.ModelAdmin):
    list_display = ["name", "utility", "states"]
    list_filter = ["utility"]
    search_fields = ["name", "states"]


@admin.register(TerritoryArea)
class TerritoryAreaAdmin(admin.ModelAdmin):
    list_display = ["utility", "state", "zip_prefix"]
    list_filter = ["utility", "state"]
    search_fields = ["zip_prefix"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "utility", "role", "created_at"]
    list_filter = ["role", "utility"]
    search_fields = ["user__email", "user__username", "utility__name"]
    raw_id_fields = ["user"]


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
