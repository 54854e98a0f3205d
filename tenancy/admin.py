from django.contrib import admin

from tenancy.models import Brand, Membership, TerritoryArea, Utility


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
