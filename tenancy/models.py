"""Utilities (the tenants), their brands, service territory and staff memberships."""

from django.conf import settings
from django.core.validators import FileExtensionValidator, RegexValidator
from django.db import models
from django.db.models import Q

from tenancy.choices import Role

hex_colour = RegexValidator(r"^#[0-9a-fA-F]{6}$", "Use a colour like #1f6feb.")
# Lower case is accepted on input and normalised to upper case in clean().
state_code = RegexValidator(r"^[A-Za-z]{2}$", "Use a two-letter state code, e.g. OR.")
zip_prefix = RegexValidator(r"^[0-9]{0,5}$", "Use up to five digits of a ZIP code.")


class TenantQuerySet(models.QuerySet):
    """The one place tenant-owned rows are narrowed to a utility. No utility, no rows."""

    def for_utility(self, utility):
        if utility is None:
            return self.none()
        return self.filter(utility=utility)


class UtilityQuerySet(models.QuerySet):
    """Utilities answer ``for_utility`` too, so every tenant lookup reads the same way."""

    def for_utility(self, utility):
        if utility is None:
            return self.none()
        return self.filter(pk=utility.pk)


class TenantModel(models.Model):
    """Base for every row a utility owns: a non-null utility and a scoping manager."""

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")

    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True


class Utility(models.Model):
    """A utility running BYOD battery programs: the tenant."""

    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    timezone = models.CharField(max_length=64, default="America/Los_Angeles")
    brand_name = models.CharField(
        max_length=120, blank=True, help_text="Name shown to customers, if not the legal name."
    )
    brand_colour = models.CharField(max_length=7, default="#1f6feb", validators=[hex_colour])
    logo = models.FileField(
        upload_to="utility-logos/",
        blank=True,
        validators=[FileExtensionValidator(["png", "jpg", "jpeg", "webp"])],
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = UtilityQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "utilities"

    def __str__(self):
        return self.name

    @property
    def display_name(self) -> str:
        return self.brand_name or self.name

    def serves(self, *, state: str, zip_code: str) -> bool:
        """Whether an address in this state and ZIP lies in the service territory."""
        return any(area.covers(state=state, zip_code=zip_code) for area in self.territory.all())


class Brand(TenantModel):
    """An operating company a utility does business under (e.g. a state subsidiary)."""

    utility = models.ForeignKey(Utility, on_delete=models.CASCADE, related_name="brands")
    name = models.CharField(max_length=120)
    states = models.CharField(
        max_length=200, blank=True, help_text="Comma-separated state codes this brand serves."
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["utility", "name"],
                name="brand_unique_per_utility",
                violation_error_message="A brand with this name already exists.",
            )
        ]

    def __str__(self):
        return self.name


class TerritoryArea(TenantModel):
    """One piece of a service territory: a state, optionally narrowed by a ZIP prefix."""

    utility = models.ForeignKey(Utility, on_delete=models.CASCADE, related_name="territory")
    state = models.CharField(max_length=2, validators=[state_code])
    zip_prefix = models.CharField(
        max_length=5, blank=True, validators=[zip_prefix], help_text="Blank for the whole state."
    )

    class Meta:
        ordering = ["state", "zip_prefix"]
        constraints = [
            models.UniqueConstraint(
                fields=["utility", "state", "zip_prefix"],
                name="territory_area_unique",
                violation_error_message="That area is already part of the territory.",
            )
        ]

    def __str__(self):
        return f"{self.state} {self.zip_prefix or '(all)'}".strip()

    def clean(self):
        self.state = self.state.upper()

    def covers(self, *, state: str, zip_code: str) -> bool:
        return state.upper() == self.state and zip_code.startswith(self.zip_prefix)


class Membership(TenantModel):
    """A user's role on a utility's staff."""

    utility = models.ForeignKey(Utility, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=32, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["utility__name", "user__email"]
        constraints = [
            models.UniqueConstraint(fields=["utility", "user"], name="membership_unique"),
            models.CheckConstraint(condition=Q(role__in=Role.values), name="membership_role_valid"),
        ]

    def __str__(self):
        return f"{self.user} · {self.get_role_display()} at {self.utility}"
