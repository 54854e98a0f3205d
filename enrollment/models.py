"""Who takes part: customers of a utility and their enrollments in programs (tenant-owned).
Vendor organisations live in `vendors`."""

import re
import uuid
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from enrollment.choices import OPEN_STATES, CreditPeriod, EligibilityRule, EnrollmentState
from tenancy.models import TenantModel
from tenancy.models import state_code as state_code_format

zip_format = RegexValidator(r"^[0-9]{5}(-[0-9]{4})?$", "Use a 5-digit ZIP code, e.g. 97201.")
money = [MinValueValidator(Decimal("0"))]


def site_key_for(*, street: str, city: str, state: str, zip_code: str) -> str:
    """A site's normalised address: case, punctuation and spacing do not make a new site."""
    words = re.sub(r"[^a-z0-9 ]+", " ", f"{street} {city}".lower()).split()
    abbreviations = {"street": "st", "avenue": "ave", "road": "rd", "drive": "dr",
                     "lane": "ln", "boulevard": "blvd", "court": "ct", "place": "pl",
                     "north": "n", "south": "s", "east": "e", "west": "w", "apartment": "apt",
                     "unit": "apt", "suite": "ste"}  # fmt: skip
    words = [abbreviations.get(w, w) for w in words]
    return f"{' '.join(words)}|{state.strip().upper()}|{zip_code.strip()[:5]}"


class Customer(TenantModel):
    """A utility customer with a portal account."""

    utility = models.ForeignKey(
        "tenancy.Utility", on_delete=models.CASCADE, related_name="customers"
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


class ProgramTerms(TenantModel):
    """One version of a program's terms and conditions, as customers accept them."""

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
    program = models.ForeignKey(
        "programs.Program", on_delete=models.CASCADE, related_name="terms_versions"
    )
    version = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    body = models.TextField()
    published_at = models.DateTimeField(
        null=True, blank=True, help_text="Blank while a draft; the newest published one is shown."
    )

    class Meta:
        ordering = ["program", "-version"]
        verbose_name_plural = "program terms"
        constraints = [
            models.UniqueConstraint(fields=["program", "version"], name="terms_version_unique"),
            models.CheckConstraint(condition=Q(version__gte=1), name="terms_version_positive"),
        ]

    def __str__(self):
        return f"{self.program} terms v{self.version}"


class IncentiveRates(TenantModel):
    """What a program pays: an upfront $/kW incentive (capped) and a participation credit."""

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
    program = models.OneToOneField(
        "programs.Program", on_delete=models.CASCADE, related_name="incentive_rates"
    )
    upfront_per_kw = models.DecimalField(max_digits=8, decimal_places=2, validators=money)
    upfront_cap = models.DecimalField(max_digits=10, decimal_places=2, validators=money)
    participation_credit_per_kw = models.DecimalField(
        max_digits=8, decimal_places=2, validators=money
    )
    credit_period = models.CharField(
        max_length=8, choices=CreditPeriod.choices, default=CreditPeriod.MONTHLY
    )
    clawback_months = models.PositiveSmallIntegerField(
        default=36, help_text="Withdrawing sooner than this after activation repays a share."
    )

    class Meta:
        verbose_name_plural = "incentive rates"
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    upfront_per_kw__gte=0, upfront_cap__gte=0, participation_credit_per_kw__gte=0
                ),
                name="incentive_rates_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(credit_period__in=CreditPeriod.values),
                name="incentive_rates_period_valid",
            ),
        ]

    def __str__(self):
        return f"{self.program}: ${self.upfront_per_kw}/kW up to ${self.upfront_cap}"

    def upfront_for(self, *, nameplate_w: int) -> Decimal:
        """The upfront incentive for a battery of this continuous rating, capped, in dollars."""
        kw = Decimal(nameplate_w) / Decimal(1000)
        return min(kw * self.upfront_per_kw, self.upfront_cap).quantize(Decimal("0.01"))

    def clawback_text(self) -> str:
        if not self.clawback_months:
            return "No upfront incentive is repaid on withdrawal."
        return (
            f"If you withdraw within {self.clawback_months} months of becoming active, the "
            f"upfront incentive is repaid pro rata for the months remaining, and "
            f"{self.get_credit_period_display().lower()} participation credits stop."
        )


class EligibilityRules(TenantModel):
    """A program's eligibility rules as data, read by ``enrollment.eligibility``."""

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
    program = models.OneToOneField(
        "programs.Program", on_delete=models.CASCADE, related_name="eligibility_rules"
    )
    account_number_regex = models.CharField(
        max_length=200, default=r"[0-9]{8,12}", help_text="The whole account number must match."
    )
    account_number_hint = models.CharField(
        max_length=120, default="8 to 12 digits, as printed on your bill"
    )
    whitelist_required = models.BooleanField(
        default=False, help_text="Only accounts on the imported list may enroll."
    )
    min_kw = models.DecimalField(max_digits=6, decimal_places=2, default=Decimal("0"))
    min_kwh = models.DecimalField(max_digits=7, decimal_places=2, default=Decimal("0"))
    max_batteries_per_site = models.PositiveSmallIntegerField(
        default=1, help_text="More than this at one site needs pre-approval."
    )
    conflicting_programs = models.ManyToManyField(
        "programs.Program", blank=True, related_name="+",
        help_text="An open enrollment in one of these makes the site ineligible.",
    )  # fmt: skip
    honour_exclusions = models.BooleanField(
        default=True, help_text="Accounts flagged as excluded on the list are ineligible."
    )
    exclude_medical_baseline = models.BooleanField(default=False)
    verification_window_h = models.PositiveIntegerField(
        default=24, validators=[MinValueValidator(1)],
        help_text="Telemetry must be this fresh to verify a linked device.",
    )  # fmt: skip

    class Meta:
        verbose_name_plural = "eligibility rules"
        constraints = [
            models.CheckConstraint(
                condition=Q(min_kw__gte=0, min_kwh__gte=0), name="eligibility_minimums_positive"
            ),
            models.CheckConstraint(
                condition=Q(verification_window_h__gte=1), name="eligibility_window_positive"
            ),
        ]

    def __str__(self):
        return f"Eligibility rules of {self.program}"

    def clean(self):
        try:
            re.compile(self.account_number_regex)
        except re.error as exc:
            raise ValidationError({"account_number_regex": f"Not a valid pattern: {exc}"}) from exc


class AccountWhitelist(TenantModel):
    """An account known to the utility (imported from CSV), with its flags."""

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
    account_number = models.CharField(max_length=32)
    program = models.ForeignKey(
        "programs.Program", null=True, blank=True, on_delete=models.CASCADE, related_name="+",
        help_text="Blank: the account is listed for every program.",
    )  # fmt: skip
    medical_baseline = models.BooleanField(default=False)
    excluded = models.BooleanField(default=False)
    exclusion_reason = models.CharField(max_length=200, blank=True)
    preapproved = models.BooleanField(
        default=False, help_text="May exceed the batteries-per-site limit."
    )
    imported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["account_number"]
        verbose_name_plural = "account whitelist"
        constraints = [
            models.UniqueConstraint(
                fields=["utility", "account_number", "program"], name="whitelist_unique"
            ),
            models.UniqueConstraint(
                fields=["utility", "account_number"],
                condition=Q(program__isnull=True),
                name="whitelist_unique_all_programs",
            ),
        ]

    def __str__(self):
        return self.account_number


class Enrollment(TenantModel):
    """A customer's application to put one battery at one site into one program."""

    utility = models.ForeignKey(
        "tenancy.Utility", on_delete=models.CASCADE, related_name="enrollments"
    )
    program = models.ForeignKey(
        "programs.Program", on_delete=models.PROTECT, related_name="enrollments"
    )
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="enrollments"
    )
    email = models.EmailField(help_text="Where notices about this enrollment go.")
    # Service address, and the normalised site it names.
    street = models.CharField(max_length=200)
    city = models.CharField(max_length=100)
    state_code = models.CharField("US state", max_length=2, validators=[state_code_format])
    zip_code = models.CharField("ZIP code", max_length=10, validators=[zip_format])
    site_key = models.CharField(max_length=400, editable=False)
    account_number = models.CharField(max_length=32)
    # The battery.
    vendor_name = models.CharField(max_length=120)
    model_name = models.CharField(max_length=120)
    equipment = models.ForeignKey(
        "programs.QualifiedEquipment", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    serial = models.CharField(max_length=120)
    install_date = models.DateField()
    has_solar = models.BooleanField(default=False)
    solar_kw = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    terms = models.ForeignKey(ProgramTerms, on_delete=models.PROTECT, related_name="+")
    # Where it stands.
    state = models.CharField(
        max_length=20, choices=EnrollmentState.choices, default=EnrollmentState.SUBMITTED
    )
    state_reason = models.CharField(max_length=500, blank=True)
    state_changed_at = models.DateTimeField()
    # Money, fixed at approval.
    incentive_upfront = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True, validators=money
    )
    participation_credit_per_kw = models.DecimalField(
        max_digits=8, decimal_places=2, null=True, blank=True, validators=money
    )
    credit_period = models.CharField(max_length=8, choices=CreditPeriod.choices, blank=True)
    device = models.ForeignKey(
        "devices.Device", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="enrollments",
    )  # fmt: skip
    submitted_at = models.DateTimeField()
    approved_at = models.DateTimeField(null=True, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-submitted_at"]
        indexes = [
            models.Index(fields=["utility", "state"], name="enrollment_utility_state"),
            # The review queue pages newest first; without this it sorts every row per page.
            models.Index(fields=["utility", "submitted_at"], name="enrollment_utility_submitted"),
        ]
        constraints = [
            # One open enrollment per site and per account in a program (double enrollment).
            models.UniqueConstraint(
                fields=["program", "site_key"],
                condition=Q(state__in=OPEN_STATES),
                name="enrollment_open_once_per_site",
            ),
            models.UniqueConstraint(
                fields=["program", "account_number"],
                condition=Q(state__in=OPEN_STATES),
                name="enrollment_open_once_per_account",
            ),
            models.CheckConstraint(
                condition=Q(state__in=EnrollmentState.values), name="enrollment_state_valid"
            ),
            models.CheckConstraint(
                condition=Q(has_solar=True) | Q(solar_kw__isnull=True),
                name="enrollment_solar_size_needs_solar",
            ),
            models.CheckConstraint(
                condition=Q(incentive_upfront__isnull=True) | Q(incentive_upfront__gte=0),
                name="enrollment_incentive_not_negative",
            ),
        ]

    def __str__(self):
        return f"#{self.pk} {self.street}, {self.city} ({self.get_state_display()})"

    def _set_site_key(self):
        self.site_key = site_key_for(
            street=self.street, city=self.city, state=self.state_code, zip_code=self.zip_code
        )

    def clean(self):
        self._set_site_key()
        if self.solar_kw is not None and not self.has_solar:
            raise ValidationError({"solar_kw": "Give a solar size only when the site has solar."})

    def save(self, *args, **kwargs):
        self._set_site_key()
        super().save(*args, **kwargs)

    @property
    def nameplate_w(self) -> int | None:
        return self.equipment.nameplate_w if self.equipment_id else None

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


class EnrollmentTransition(TenantModel):
    """Append-only audit of an enrollment: from what, to what, who, why and when."""

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="transitions")
    from_state = models.CharField(max_length=20, choices=EnrollmentState.choices, blank=True)
    to_state = models.CharField(max_length=20, choices=EnrollmentState.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    actor_label = models.CharField(max_length=120)
    reason = models.CharField(max_length=500, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.enrollment_id}: {self.from_state or 'new'} → {self.to_state}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValidationError("Enrollment transitions are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("Enrollment transitions are append-only.")


class EligibilityResult(TenantModel):
    """The outcome of one eligibility rule for one enrollment, with the reason in words."""

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
    enrollment = models.ForeignKey(
        Enrollment, on_delete=models.CASCADE, related_name="eligibility_results"
    )
    rule = models.CharField(max_length=32, choices=EligibilityRule.choices)
    passed = models.BooleanField()
    reason = models.CharField(max_length=500)
    checked_at = models.DateTimeField()

    class Meta:
        ordering = ["enrollment", "id"]
        constraints = [
            models.UniqueConstraint(fields=["enrollment", "rule"], name="eligibility_result_once"),
            models.CheckConstraint(
                condition=Q(rule__in=EligibilityRule.values), name="eligibility_rule_valid"
            ),
        ]

    def __str__(self):
        return f"{self.get_rule_display()}: {'pass' if self.passed else 'fail'}"


def _draft_token() -> str:
    return uuid.uuid4().hex


class EnrollmentDraft(TenantModel):
    """A customer's unfinished application, resumable through a signed cookie."""

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
    program = models.ForeignKey("programs.Program", on_delete=models.CASCADE, related_name="+")
    token = models.CharField(max_length=32, unique=True, default=_draft_token, editable=False)
    data = models.JSONField(default=dict, blank=True)
    step = models.PositiveSmallIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(step__gte=1, step__lte=4), name="enrollment_draft_step_range"
            )
        ]

    def __str__(self):
        return f"Draft {self.token[:8]} for {self.program} (step {self.step})"


# What reading or acting on a notice needs, in one query.
NOTICE_RELATED = (
    "utility",
    "enrollment",
    "enrollment__program",
    "device",
    "event",
    "event__program",
    "event__program__utility",
)


class EventNotice(TenantModel):
    """The email telling one enrollment's customer about one scheduled event. Its key,
    signed into the email's opt-out link, makes that link single-use (``used_at``)."""

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
    enrollment = models.ForeignKey(
        Enrollment, on_delete=models.CASCADE, related_name="event_notices"
    )
    event = models.ForeignKey("programs.Event", on_delete=models.CASCADE, related_name="+")
    # The battery the notice was about: the link opts out this device and no other.
    device = models.ForeignKey("devices.Device", on_delete=models.CASCADE, related_name="+")
    key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["enrollment", "event"], name="event_notice_once_per_enrollment"
            )
        ]

    def __str__(self):
        return f"Notice of event {self.event_id} to enrollment {self.enrollment_id}"


__all__ = [
    "AccountWhitelist",
    "Customer",
    "EligibilityResult",
    "EligibilityRules",
    "Enrollment",
    "EnrollmentDraft",
    "EnrollmentTransition",
    "EventNotice",
    "IncentiveRates",
    "ProgramTerms",
    "site_key_for",
]
