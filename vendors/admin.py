from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.shortcuts import render

from vendors import services
from vendors.models import (
    CertificateAuthority,
    ConformanceRun,
    IssuedCertificate,
    ProductModel,
    VendorApplication,
    VendorContact,
    VendorMembership,
    VendorOrganization,
)


class VendorMembershipInline(admin.TabularInline):
    model = VendorMembership
    raw_id_fields = ["user"]
    extra = 0


def _decide_each(modeladmin, request, queryset, decide, done: str) -> None:
    # Each organisation through the service (emails, certificate revocation); bad ones
    # are reported and left unchanged.
    for org in queryset:
        try:
            decide(org)
        except ValidationError as exc:
            modeladmin.message_user(request, f"{org}: {' '.join(exc.messages)}", messages.ERROR)
        else:
            modeladmin.message_user(request, f"{org}: {done}.", messages.SUCCESS)


@admin.action(description="Approve selected organisations")
def approve_organizations(modeladmin, request, queryset):
    _decide_each(
        modeladmin,
        request,
        queryset,
        lambda org: services.vendor_organization_approve(organization=org, actor=request.user),
        "approved",
    )


def _with_reason(modeladmin, request, queryset, *, action: str, required: bool):
    """Ask for the reason on an intermediate page, then decide every selected one."""
    reason = request.POST.get("reason", "").strip()
    if "apply" not in request.POST or (required and not reason):
        return render(
            request,
            "admin/vendors/vendor_decision.html",
            {
                **modeladmin.admin_site.each_context(request),
                "title": f"{action.capitalize()} vendor organisations",
                "organizations": queryset,
                "action": f"{action}_organizations",
                "verb": action,
                "required": required,
                "error": "Give a reason." if "apply" in request.POST else "",
                "opts": modeladmin.model._meta,
            },
        )
    service = {
        "reject": services.vendor_organization_reject,
        "suspend": services.vendor_organization_suspend,
    }[action]
    _decide_each(
        modeladmin,
        request,
        queryset,
        lambda org: service(organization=org, actor=request.user, reason=reason),
        f"{action}ed; its certificates are revoked",
    )
    return None


@admin.action(description="Reject selected organisations (with a reason)")
def reject_organizations(modeladmin, request, queryset):
    return _with_reason(modeladmin, request, queryset, action="reject", required=True)


@admin.action(description="Suspend selected organisations (revokes their certificates)")
def suspend_organizations(modeladmin, request, queryset):
    return _with_reason(modeladmin, request, queryset, action="suspend", required=False)


@admin.register(VendorOrganization)
class VendorOrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "status", "status_reason", "website", "created_at"]
    list_filter = ["kind", "status"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [VendorMembershipInline]
    actions = [approve_organizations, reject_organizations, suspend_organizations]
    # Status changes go through the actions, so certificates are revoked and users told.
    readonly_fields = ["status", "status_reason", "status_changed_at", "status_changed_by"]


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
    list_display = ["name", "email", "organization", "kind", "topic"]
    list_filter = ["kind", "organization"]
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
