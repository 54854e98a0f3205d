from django.contrib import admin

from enrollment.models import (
    CertificateAuthority,
    ConformanceRun,
    Customer,
    IssuedCertificate,
    ProductModel,
    VendorApplication,
    VendorContact,
    VendorMembership,
    VendorOrganization,
)


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


@admin.register(ProductModel)
class ProductModelAdmin(admin.ModelAdmin):
    list_display = ["vendor_name", "model_name", "organization", "power_kw", "energy_kwh"]
    list_filter = ["client_type", "organization"]
    search_fields = ["vendor_name", "model_name", "organization__name"]


@admin.register(VendorContact)
class VendorContactAdmin(admin.ModelAdmin):
    list_display = ["name", "email", "organization", "topic"]
    list_filter = ["organization"]
    search_fields = ["name", "email"]


@admin.register(VendorApplication)
class VendorApplicationAdmin(admin.ModelAdmin):
    list_display = ["organization", "program", "utility", "status", "approved_at"]
    list_filter = ["utility", "status"]
    search_fields = ["organization__name", "program__name"]
    raw_id_fields = ["approved_by", "sandbox_program", "program"]


@admin.register(CertificateAuthority)
class CertificateAuthorityAdmin(admin.ModelAdmin):
    list_display = ["common_name", "utility", "role", "not_after"]
    list_filter = ["utility", "role"]
    search_fields = ["common_name"]
    exclude = ["encrypted_key"]  # never shown


@admin.register(IssuedCertificate)
class IssuedCertificateAdmin(admin.ModelAdmin):
    list_display = ["lfdi", "sfdi", "utility", "application", "kind", "revoked", "not_after"]
    list_filter = ["utility", "kind", "revoked"]
    search_fields = ["lfdi", "serial"]
    raw_id_fields = ["application", "authority"]


@admin.register(ConformanceRun)
class ConformanceRunAdmin(admin.ModelAdmin):
    list_display = ["pk", "application", "utility", "status", "progress_pct", "started_at"]
    list_filter = ["utility", "status"]
    search_fields = ["application__organization__name"]
    raw_id_fields = ["application", "certificate", "started_by"]
