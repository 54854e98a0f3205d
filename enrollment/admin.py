from django.contrib import admin

from enrollment.models import Customer, VendorMembership, VendorOrganization


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["name", "utility", "user", "phone", "created_at"]
    list_filter = ["utility"]
    search_fields = ["name", "user__email", "phone"]
    raw_id_fields = ["user"]


class VendorMembershipInline(admin.TabularInline):
    model = VendorMembership
    raw_id_fields = ["user"]
    extra = 0


@admin.register(VendorOrganization)
class VendorOrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "status", "website", "created_at"]
    list_filter = ["kind", "status"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [VendorMembershipInline]


@admin.register(VendorMembership)
class VendorMembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "organization", "role"]
    list_filter = ["role", "organization"]
    search_fields = ["user__email", "organization__name"]
    raw_id_fields = ["user"]
