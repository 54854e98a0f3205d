from django.contrib import admin

from enrollment.models import (
    AccountWhitelist,
    Customer,
    EligibilityResult,
    EligibilityRules,
    Enrollment,
    EnrollmentDraft,
    EnrollmentTransition,
    EventNotice,
    IncentiveRates,
    ProgramTerms,
)


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["name", "utility", "user", "phone", "created_at"]
    list_filter = ["utility"]
    search_fields = ["name", "user__email", "phone"]
    raw_id_fields = ["user"]


@admin.register(ProgramTerms)
class ProgramTermsAdmin(admin.ModelAdmin):
    list_display = ["program", "version", "published_at", "utility"]
    list_filter = ["utility", "program"]
    search_fields = ["program__name", "body"]


@admin.register(IncentiveRates)
class IncentiveRatesAdmin(admin.ModelAdmin):
    list_display = [
        "program",
        "upfront_per_kw",
        "upfront_cap",
        "participation_credit_per_kw",
        "credit_period",
        "utility",
    ]
    list_filter = ["utility", "credit_period"]
    search_fields = ["program__name"]


@admin.register(EligibilityRules)
class EligibilityRulesAdmin(admin.ModelAdmin):
    list_display = [
        "program",
        "whitelist_required",
        "min_kw",
        "min_kwh",
        "max_batteries_per_site",
        "verification_window_h",
        "utility",
    ]
    list_filter = ["utility", "whitelist_required", "honour_exclusions"]
    search_fields = ["program__name"]
    filter_horizontal = ["conflicting_programs"]


@admin.register(AccountWhitelist)
class AccountWhitelistAdmin(admin.ModelAdmin):
    list_display = [
        "account_number",
        "program",
        "medical_baseline",
        "excluded",
        "preapproved",
        "utility",
    ]
    list_filter = ["utility", "medical_baseline", "excluded", "preapproved"]
    search_fields = ["account_number", "exclusion_reason"]


class EnrollmentTransitionInline(admin.TabularInline):
    model = EnrollmentTransition
    fields = ["at", "from_state", "to_state", "actor_label", "reason"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Enrollment)
class EnrollmentAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "program",
        "street",
        "city",
        "account_number",
        "vendor_name",
        "serial",
        "state",
        "submitted_at",
        "utility",
    ]
    list_filter = ["utility", "state", "program"]
    search_fields = ["street", "city", "account_number", "serial", "email"]
    raw_id_fields = ["customer", "device", "equipment", "terms"]
    inlines = [EnrollmentTransitionInline]


@admin.register(EnrollmentTransition)
class EnrollmentTransitionAdmin(admin.ModelAdmin):
    list_display = ["enrollment", "from_state", "to_state", "actor_label", "at", "utility"]
    list_filter = ["utility", "to_state"]
    search_fields = ["reason", "actor_label"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(EligibilityResult)
class EligibilityResultAdmin(admin.ModelAdmin):
    list_display = ["enrollment", "rule", "passed", "reason", "checked_at", "utility"]
    list_filter = ["utility", "rule", "passed"]
    search_fields = ["reason"]


@admin.register(EnrollmentDraft)
class EnrollmentDraftAdmin(admin.ModelAdmin):
    list_display = ["token", "program", "step", "updated_at", "utility"]
    list_filter = ["utility", "step"]
    search_fields = ["token"]


@admin.register(EventNotice)
class EventNoticeAdmin(admin.ModelAdmin):
    list_display = ["event", "enrollment", "device", "sent_at", "used_at", "utility"]
    list_filter = ["utility"]
    search_fields = ["enrollment__email", "enrollment__account_number"]
    readonly_fields = ["key", "created_at", "sent_at", "used_at"]
    raw_id_fields = ["enrollment", "event", "device"]
