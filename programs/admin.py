from django.contrib import admin

from programs.models import (
    BlackoutDate,
    Curve,
    DefaultControl,
    Dispatch,
    DispatchGroup,
    DispatchGroupMember,
    Event,
    EventTransition,
    OptOut,
    Participant,
    Program,
    ProgramChange,
    QualifiedEquipment,
    Season,
    SiteEnvelope,
)


class SeasonInline(admin.TabularInline):
    model = Season
    extra = 0
    exclude = ["utility"]


class QualifiedEquipmentInline(admin.TabularInline):
    model = QualifiedEquipment
    extra = 0
    exclude = ["utility"]


@admin.register(Program)
class ProgramAdmin(admin.ModelAdmin):
    list_display = ["name", "utility", "status", "profile", "primacy", "is_sandbox"]
    list_filter = ["utility", "status", "profile", "is_sandbox"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Season)
class SeasonAdmin(admin.ModelAdmin):
    list_display = ["name", "program", "start_date", "end_date", "max_events", "max_hours"]
    list_filter = ["utility", "program"]
    search_fields = ["name", "program__name"]


@admin.register(BlackoutDate)
class BlackoutDateAdmin(admin.ModelAdmin):
    list_display = ["date", "reason", "program"]
    list_filter = ["utility", "program"]
    search_fields = ["reason"]


@admin.register(QualifiedEquipment)
class QualifiedEquipmentAdmin(admin.ModelAdmin):
    list_display = ["vendor_name", "model_name", "program", "nameplate_w", "nameplate_wh"]
    list_filter = ["utility", "program", "vendor_name"]
    search_fields = ["vendor_name", "model_name"]


@admin.register(DispatchGroup)
class DispatchGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "program", "states", "zip_prefixes", "feeders", "vendors"]
    list_filter = ["utility", "program"]
    search_fields = ["name", "mrid"]


@admin.register(ProgramChange)
class ProgramChangeAdmin(admin.ModelAdmin):
    list_display = ["program", "part", "at", "actor_label"]
    list_filter = ["utility", "part"]
    search_fields = ["program__name", "actor_label"]
    readonly_fields = [
        "utility",
        "program",
        "part",
        "at",
        "actor",
        "actor_label",
        "before",
        "after",
    ]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Curve)
class CurveAdmin(admin.ModelAdmin):
    list_display = ["__str__", "program", "curve_type", "y_ref_type", "changed_at"]
    list_filter = ["utility", "curve_type"]
    search_fields = ["description", "mrid"]


@admin.register(SiteEnvelope)
class SiteEnvelopeAdmin(admin.ModelAdmin):
    list_display = [
        "connection_point_id",
        "program",
        "start",
        "duration_s",
        "op_mod_exp_lim_w",
        "op_mod_imp_lim_w",
        "cancelled_at",
    ]
    list_filter = ["utility", "program"]
    search_fields = ["connection_point_id", "mrid"]
    date_hierarchy = "start"


@admin.register(DefaultControl)
class DefaultControlAdmin(admin.ModelAdmin):
    list_display = ["group", "changed_at"]
    list_filter = ["utility"]
    search_fields = ["group__name", "group__program__name"]
    raw_id_fields = ["group"]


@admin.register(DispatchGroupMember)
class DispatchGroupMemberAdmin(admin.ModelAdmin):
    list_display = ["group", "device", "attached_at", "attached_by"]
    list_filter = ["utility"]
    search_fields = ["group__name", "device__lfdi", "device__serial"]
    raw_id_fields = ["group", "device", "attached_by"]


class EventTransitionInline(admin.TabularInline):
    model = EventTransition
    extra = 0
    can_delete = False
    readonly_fields = ("at", "actor_label", "from_status", "to_status", "reason")
    fields = readonly_fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["__str__", "program", "group", "kind", "status", "start", "target_w", "is_test"]
    list_filter = ["utility", "status", "kind", "purpose", "is_test", "emergency_override"]
    search_fields = ["mrid", "program__name", "group__name"]
    date_hierarchy = "start"
    readonly_fields = ["mrid", "status", "superseded_by", "created_by", "created_at"]
    inlines = [EventTransitionInline]

    def has_delete_permission(self, request, obj=None):
        return False  # events are cancelled or superseded, never deleted


@admin.register(EventTransition)
class EventTransitionAdmin(admin.ModelAdmin):
    list_display = ["event", "at", "actor_label", "from_status", "to_status"]
    list_filter = ["utility", "to_status"]
    search_fields = ["event__mrid", "actor_label", "reason"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


@admin.register(Participant)
class ParticipantAdmin(admin.ModelAdmin):
    list_display = ["device", "program", "joined_at", "left_at"]
    list_filter = ["utility", "program"]
    search_fields = ["device__serial", "device__lfdi"]
    raw_id_fields = ["device"]


@admin.register(OptOut)
class OptOutAdmin(admin.ModelAdmin):
    list_display = ["device", "event", "source", "at"]
    list_filter = ["utility", "source"]
    search_fields = ["device__serial", "event__mrid"]
    raw_id_fields = ["device", "event"]


@admin.register(Dispatch)
class DispatchAdmin(admin.ModelAdmin):
    list_display = ["event", "device", "setpoint_w", "committed_w", "last_response"]
    list_filter = ["utility", "last_response"]
    search_fields = ["device__serial", "event__mrid"]
    raw_id_fields = ["device", "event"]
