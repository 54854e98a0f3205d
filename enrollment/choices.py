from django.db import models


class VendorKind(models.TextChoices):
    """How a vendor organisation's 2030.5 clients reach us."""

    VENDOR = "vendor", "Battery vendor"
    AGGREGATOR = "aggregator", "Aggregator"


class VendorStatus(models.TextChoices):
    PENDING = "pending", "Awaiting approval"
    APPROVED = "approved", "Approved"
    SUSPENDED = "suspended", "Suspended"


class VendorRole(models.TextChoices):
    ADMIN = "admin", "Administrator"
    ENGINEER = "engineer", "Engineer"
