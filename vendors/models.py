"""Vendor and aggregator organisations, their users, products and contacts, and their
onboarding at utilities: applications with a sandbox, the utility's CA and the client
certificates it issues, and the records of conformance runs.

Vendor organisations are platform-wide (one battery vendor works with many utilities);
what a vendor may see at a utility comes only through its applications to that utility's
programs. Applications, certificates and runs are tenant-owned.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from tenancy.models import TenantModel
from vendors.choices import (
    ApplicationStatus,
    AuthorityRole,
    ClientType,
    ContactKind,
    RunStatus,
    VendorKind,
    VendorRole,
    VendorStatus,
)

__all__ = [
    "CertificateAuthority",
    "ConformanceRun",
    "IssuedCertificate",
    "ProductModel",
    "VendorApplication",
    "VendorContact",
    "VendorMembership",
    "VendorOrganization",
]


class VendorOrganization(models.Model):
    """A battery vendor or aggregator that runs 2030.5 clients against our server."""

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    kind = models.CharField(max_length=16, choices=VendorKind.choices, default=VendorKind.VENDOR)
    status = models.CharField(
        max_length=16, choices=VendorStatus.choices, default=VendorStatus.PENDING
    )
    website = models.URLField(blank=True)
    status_reason = models.CharField(
        max_length=500, blank=True, help_text="Why it was rejected or suspended; shown to it."
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)
    status_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=VendorStatus.values), name="vendor_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=VendorKind.values), name="vendor_kind_valid"
            ),
        ]

    def __str__(self):
        return self.name


class VendorMembership(models.Model):
    """A user working for a vendor organisation."""

    organization = models.ForeignKey(
        VendorOrganization, on_delete=models.CASCADE, related_name="members"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="vendor_memberships"
    )
    role = models.CharField(max_length=16, choices=VendorRole.choices, default=VendorRole.ENGINEER)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "user"], name="vendor_membership_unique"
            ),
            models.CheckConstraint(
                condition=Q(role__in=VendorRole.values), name="vendor_role_valid"
            ),
        ]

    def __str__(self):
        return f"{self.user} at {self.organization} ({self.get_role_display()})"


class ProductModel(models.Model):
    """A battery product a vendor organisation brings to programs (platform-wide)."""

    organization = models.ForeignKey(
        VendorOrganization, on_delete=models.CASCADE, related_name="products"
    )
    vendor_name = models.CharField(max_length=120)
    model_name = models.CharField(max_length=120)
    power_kw = models.DecimalField("kW", max_digits=7, decimal_places=2)
    energy_kwh = models.DecimalField("kWh", max_digits=7, decimal_places=2)
    chemistry = models.CharField(max_length=40, blank=True)
    firmware = models.CharField(max_length=60, blank=True)
    client_type = models.CharField(
        max_length=16, choices=ClientType.choices, default=ClientType.NATIVE
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["vendor_name", "model_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "vendor_name", "model_name"], name="product_once_per_org"
            )
        ]

    def __str__(self):
        return f"{self.vendor_name} {self.model_name}"


class VendorContact(models.Model):
    """A person at a vendor organisation the utility may call (not necessarily a user)."""

    organization = models.ForeignKey(
        VendorOrganization, on_delete=models.CASCADE, related_name="contacts"
    )
    name = models.CharField(max_length=120)
    email = models.EmailField()
    phone = models.CharField(max_length=32, blank=True)
    kind = models.CharField(
        max_length=16, choices=ContactKind.choices, default=ContactKind.TECHNICAL
    )
    topic = models.CharField(max_length=60, blank=True, help_text="e.g. firmware, billing")

    class Meta:
        ordering = ["kind", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=ContactKind.values), name="vendor_contact_kind_valid"
            ),
        ]

    def __str__(self):
        return f"{self.name} <{self.email}> ({self.get_kind_display()})"


class VendorApplication(TenantModel):
    """A vendor organisation asking to join one of a utility's production programs."""

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
    organization = models.ForeignKey(
        VendorOrganization, on_delete=models.CASCADE, related_name="applications"
    )
    program = models.ForeignKey(
        "programs.Program", on_delete=models.CASCADE, related_name="+", help_text="The target."
    )
    sandbox_program = models.ForeignKey(
        "programs.Program", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        max_length=16, choices=ApplicationStatus.choices, default=ApplicationStatus.DRAFT
    )
    documents_uploaded = models.BooleanField(default=False)
    certificate_issued = models.BooleanField(default=False)
    conformance_passed = models.BooleanField(default=False)
    approved = models.BooleanField(default=False)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_run_id = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ApplicationStatus.values), name="application_status_valid"
            ),
        ]

    def __str__(self):
        return f"{self.organization} → {self.program}"

    @property
    def checklist(self) -> list[tuple[str, bool]]:
        return [
            ("Documents uploaded", self.documents_uploaded),
            ("Certificate issued", self.certificate_issued),
            ("Conformance passed", self.conformance_passed),
            ("Approved", self.approved),
        ]


class CertificateAuthority(TenantModel):
    """One CA of a utility's 2030.5 hierarchy; its private key is stored encrypted only."""

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
    role = models.CharField(max_length=16, choices=AuthorityRole.choices)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    common_name = models.CharField(max_length=64)
    certificate_pem = models.TextField()
    encrypted_key = models.TextField(editable=False, help_text="Fernet token; never shown.")
    not_after = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["utility", "role"], name="one_ca_per_role"),
        ]

    def __str__(self):
        return f"{self.common_name} ({self.get_role_display()})"


class IssuedCertificate(TenantModel):
    """A 2030.5 client certificate from the utility's CA: issued to a vendor for its
    sandbox (`application` set), or by the utility itself through the API (no application)."""

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
    application = models.ForeignKey(
        VendorApplication,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="certificates",
    )
    authority = models.ForeignKey(CertificateAuthority, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, help_text="aggregator or device")
    lfdi = models.CharField("LFDI", max_length=40)
    sfdi = models.BigIntegerField("SFDI")
    serial = models.CharField(max_length=40, help_text="Hex serial number.")
    not_after = models.DateTimeField()
    pem = models.TextField()
    revoked = models.BooleanField(default=False)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["lfdi"], name="issued_certificate_unique_lfdi"),
        ]

    def __str__(self):
        return f"Certificate {self.lfdi[:8]}… ({self.kind})"


class ConformanceRun(TenantModel):
    """One execution of conformance procedures against an application's sandbox."""

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
    application = models.ForeignKey(
        VendorApplication, on_delete=models.CASCADE, related_name="runs"
    )
    certificate = models.ForeignKey(
        IssuedCertificate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    procedures = models.JSONField(default=list, help_text="Procedure keys, in order.")
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    progress_pct = models.PositiveSmallIntegerField(default=0)
    time_scale = models.FloatField(
        default=1.0, help_text="Multiplies every wait; below 1 runs faster than real time."
    )
    # What the vendor supplies for some procedures, e.g. an out-of-band LFDI and PIN.
    parameters = models.JSONField(default=dict, blank=True)
    # Where the step machine stands: procedure index, step index, per-step state.
    cursor = models.JSONField(default=dict, blank=True)
    results = models.JSONField(default=dict, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=RunStatus.values), name="run_status_valid"
            ),
        ]

    def __str__(self):
        return f"Conformance run {self.pk} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status in (RunStatus.PASSED, RunStatus.FAILED, RunStatus.ERROR)
