"""Who takes part: customers of a utility, and the vendor organisations that serve them.

Customers are tenant-owned. Vendor organisations are platform-wide (one battery vendor
works with many utilities); what a vendor may see at a utility comes only through its
applications to that utility's programs.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from enrollment.choices import VendorKind, VendorRole, VendorStatus
from portal.models import TenantModel


class Customer(TenantModel):
    """A utility customer with a portal account."""

    utility = models.ForeignKey(
        "portal.Utility", on_delete=models.CASCADE, related_name="customers"
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="customer"
    )
    name = models.CharField(max_length=200)
    phone = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class VendorOrganization(models.Model):
    """A battery vendor or aggregator that runs 2030.5 clients against our server."""

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    kind = models.CharField(max_length=16, choices=VendorKind.choices, default=VendorKind.VENDOR)
    status = models.CharField(
        max_length=16, choices=VendorStatus.choices, default=VendorStatus.PENDING
    )
    website = models.URLField(blank=True)
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
            )
        ]

    def __str__(self):
        return f"{self.user} at {self.organization} ({self.get_role_display()})"
