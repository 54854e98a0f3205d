from django.db import models


class EnrollmentState(models.TextChoices):
    """Where an enrollment stands: submitted → eligible → approved → … → active."""

    SUBMITTED = "submitted", "Submitted"
    ELIGIBLE = "eligible", "Eligible"
    INELIGIBLE = "ineligible", "Ineligible"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    DEVICE_LINKED = "device_linked", "Device linked"
    TELEMETRY_VERIFIED = "telemetry_verified", "Telemetry verified"
    ACTIVE = "active", "Active"
    WITHDRAWN = "withdrawn", "Withdrawn"
    TERMINATED = "terminated", "Terminated"


# States that hold a site's place in a program: a second enrollment there is refused.
OPEN_STATES = (
    EnrollmentState.SUBMITTED,
    EnrollmentState.ELIGIBLE,
    EnrollmentState.APPROVED,
    EnrollmentState.DEVICE_LINKED,
    EnrollmentState.TELEMETRY_VERIFIED,
    EnrollmentState.ACTIVE,
)

# The funnel from application to participation, in order.
FUNNEL_STATES = (
    EnrollmentState.SUBMITTED,
    EnrollmentState.ELIGIBLE,
    EnrollmentState.APPROVED,
    EnrollmentState.DEVICE_LINKED,
    EnrollmentState.TELEMETRY_VERIFIED,
    EnrollmentState.ACTIVE,
)


class CreditPeriod(models.TextChoices):
    MONTHLY = "monthly", "Monthly"
    ANNUAL = "annual", "Annual"


class EligibilityRule(models.TextChoices):
    """One check of the eligibility engine; each enrollment stores a result per rule."""

    TERRITORY = "territory", "In the service territory"
    ACCOUNT_FORMAT = "account_format", "Account number well-formed"
    WHITELIST = "whitelist", "Account on the program's list"
    QUALIFIED_MODEL = "qualified_model", "Battery model qualified"
    MIN_KW = "min_kw", "Minimum power (kW)"
    MIN_KWH = "min_kwh", "Minimum energy (kWh)"
    NOT_ENROLLED = "not_enrolled", "Not already enrolled"
    CONFLICTING_PROGRAM = "conflicting_program", "No conflicting program"
    EXCLUSION = "exclusion", "No exclusion flag"
    BATTERIES_PER_SITE = "batteries_per_site", "Batteries per site"
