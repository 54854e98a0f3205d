from django.contrib import admin

from protocol.models import (
    Client,
    ControlResponse,
    EndDevice,
    ExchangeRecord,
    LogEvent,
    MirrorMeterReading,
    MirrorUsagePoint,
    NotificationDelivery,
    Subscription,
)


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = ["name", "utility", "kind", "lfdi", "revoked", "last_seen_at"]
    list_filter = ["utility", "kind", "revoked"]
    search_fields = ["name", "lfdi"]


@admin.register(EndDevice)
class EndDeviceAdmin(admin.ModelAdmin):
    list_display = ["sfdi", "lfdi", "utility", "registered_by", "device", "enabled"]
    list_filter = ["utility", "enabled"]
    search_fields = ["lfdi", "sfdi"]
    raw_id_fields = ["device", "registered_by"]


@admin.register(MirrorUsagePoint)
class MirrorUsagePointAdmin(admin.ModelAdmin):
    list_display = ["mrid", "end_device", "utility", "role_flags", "status"]
    list_filter = ["utility", "status"]
    search_fields = ["mrid", "description"]
    raw_id_fields = ["end_device"]


@admin.register(MirrorMeterReading)
class MirrorMeterReadingAdmin(admin.ModelAdmin):
    list_display = ["mrid", "mirror_usage_point", "channel", "uom", "power_of_ten"]
    list_filter = ["utility", "channel"]
    search_fields = ["mrid", "description"]
    raw_id_fields = ["mirror_usage_point"]


@admin.register(ControlResponse)
class ControlResponseAdmin(admin.ModelAdmin):
    list_display = ["event", "end_device", "status", "created_at", "received_at"]
    list_filter = ["utility", "status"]
    search_fields = ["event__mrid", "end_device__lfdi"]
    raw_id_fields = ["event", "end_device"]


@admin.register(LogEvent)
class LogEventAdmin(admin.ModelAdmin):
    list_display = ["end_device", "function_set", "log_event_code", "created_at"]
    list_filter = ["utility", "function_set"]
    search_fields = ["details", "end_device__lfdi"]
    raw_id_fields = ["end_device"]


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ["subscribed_resource", "end_device", "notification_uri", "failures"]
    list_filter = ["utility", "encoding"]
    search_fields = ["subscribed_resource", "notification_uri"]
    raw_id_fields = ["end_device"]


@admin.register(ExchangeRecord)
class ExchangeRecordAdmin(admin.ModelAdmin):
    list_display = ["at", "utility", "client", "run_id", "step", "method", "path", "status"]
    list_filter = ["utility", "method", "status"]
    search_fields = ["path", "step", "client__name"]
    raw_id_fields = ["client"]


@admin.register(NotificationDelivery)
class NotificationDeliveryAdmin(admin.ModelAdmin):
    """The notification outbox: what is owed to whom, and whether it went (an operator's
    view when a subscriber says it heard nothing)."""

    list_display = ["created_at", "subscription", "resource", "attempts", "due_at",
                    "delivered_at", "given_up_at"]  # fmt: skip
    list_filter = ["subscription__utility", "delivered_at", "given_up_at"]
    search_fields = ["resource", "subscription__notification_uri", "task_id"]
    raw_id_fields = ["subscription"]
    date_hierarchy = "created_at"
