from django.db import models


class VendorKind(models.TextChoices):
    """How a vendor organisation's 2030.5 clients reach us."""

    VENDOR = "vendor", "Battery vendor"
    AGGREGATOR = "aggregator", "Aggregator"


class VendorStatus(models.TextChoices):
    """Where a vendor organisation stands with the platform operators."""

    PENDING = "pending", "Awaiting approval"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    SUSPENDED = "suspended", "Suspended"


class VendorRole(models.TextChoices):
    """A vendor user's role; what each may do is `vendors.roles.ROLE_CAPABILITIES`."""

    ADMIN = "admin", "Administrator"
    ENGINEER = "engineer", "Engineer"
    VIEWER = "viewer", "Viewer (read-only)"


class ContactKind(models.TextChoices):
    """Whom a utility calls at a vendor organisation, and about what."""

    TECHNICAL = "technical", "Technical"
    BUSINESS = "business", "Business"
    SECURITY = "security", "Security"


class ClientType(models.TextChoices):
    """How a product speaks 2030.5: itself, through a site gateway, or through a cloud."""

    NATIVE = "native", "Native 2030.5 device"
    GATEWAY = "gateway", "Site gateway"
    AGGREGATOR = "aggregator", "Cloud aggregator"


class ApplicationStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    TESTING = "testing", "Testing"
    PASSED = "passed", "Passed conformance"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class AuthorityRole(models.TextChoices):
    ROOT = "root", "Root (SERCA-like)"
    INTERMEDIATE = "intermediate", "Intermediate (MICA-like)"


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"
    ERROR = "error", "Error"
