from django.contrib import admin

from devices.models import (
    ConnectorCommand,
    ConnectorSite,
    Device,
    FleetRollup,
    OtherReading,
    TelemetryRollup,
    TelemetryRollupPending,
    TelemetrySample,
)


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = [
        "serial",
        "vendor_name",
        "model_name",
        "utility",
        "soc_pct",
        "power_w",
        "operating_mode",
        "last_heard_at",
    ]
    list_filter = ["utility", "vendor_name", "operating_mode", "state"]
    search_fields = ["serial", "vendor_name", "model_name", "lfdi", "zip_code", "feeder"]
    readonly_fields = ["telemetry_at", "last_heard_at", "status_at", "availability_at"]


@admin.register(TelemetrySample)
class TelemetrySampleAdmin(admin.ModelAdmin):
    list_display = ["device", "channel", "at", "value", "utility"]
    list_filter = ["utility", "channel"]
    search_fields = ["device__serial"]
    raw_id_fields = ["device"]
    # A large table: no full COUNT(*) for the paginator.
    show_full_result_count = False


@admin.register(OtherReading)
class OtherReadingAdmin(admin.ModelAdmin):
    list_display = ["device", "quantity", "value", "unit", "at", "utility"]
    list_filter = ["utility", "unit"]
    search_fields = ["device__serial", "quantity"]
    raw_id_fields = ["device"]
    show_full_result_count = False


@admin.register(TelemetryRollup)
class TelemetryRollupAdmin(admin.ModelAdmin):
    list_display = ["device", "channel", "period", "bucket_start", "avg", "min", "max", "count"]
    list_filter = ["utility", "channel", "period"]
    search_fields = ["device__serial"]
    raw_id_fields = ["device"]
    show_full_result_count = False


@admin.register(TelemetryRollupPending)
class TelemetryRollupPendingAdmin(admin.ModelAdmin):
    list_display = ["utility", "hour_start"]
    list_filter = ["utility"]
    search_fields = ["utility__name"]


@admin.register(ConnectorSite)
class ConnectorSiteAdmin(admin.ModelAdmin):
    list_display = ["name", "host", "port", "unit_id", "utility", "status", "enabled", "last_ok_at"]
    list_filter = ["utility", "status", "enabled"]
    search_fields = ["name", "host", "device__serial"]
    raw_id_fields = ["device"]
    readonly_fields = ["model_map", "last_polled_at", "last_ok_at", "failures", "next_attempt_at"]


@admin.register(ConnectorCommand)
class ConnectorCommandAdmin(admin.ModelAdmin):
    list_display = ["at", "site", "kind", "requested_w", "ok", "event_mrid", "utility"]
    list_filter = ["utility", "kind", "ok"]
    search_fields = ["site__name", "event_mrid", "device__serial"]
    raw_id_fields = ["site", "device"]
    show_full_result_count = False


@admin.register(FleetRollup)
class FleetRollupAdmin(admin.ModelAdmin):
    list_display = ["utility", "channel", "period", "bucket_start", "total", "devices"]
    list_filter = ["utility", "channel", "period"]
    search_fields = ["utility__name"]
    date_hierarchy = "bucket_start"
