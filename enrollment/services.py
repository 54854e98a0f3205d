"""Writes for vendor onboarding: sign-up, applications with their sandbox, approval."""

from datetime import datetime

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from enrollment.choices import ApplicationStatus, VendorRole
from enrollment.models import (
    ConformanceRun,
    ProductModel,
    VendorApplication,
    VendorMembership,
    VendorOrganization,
)
from programs.models import DispatchGroup, Program, QualifiedEquipment


@transaction.atomic
def vendor_signup(*, name: str, email: str, password: str, website: str = "") -> VendorMembership:
    """A new organisation (pending) and its first user, an administrator."""
    User = get_user_model()
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError({"email": "A user with this email exists already."})
    slug = slugify(name)[:60] or "vendor"
    org = VendorOrganization(name=name, slug=slug, website=website)
    org.full_clean()
    org.save()
    user = User.objects.create_user(username=email, email=email, password=password)
    return VendorMembership.objects.create(organization=org, user=user, role=VendorRole.ADMIN)


def _sandbox_for(program: Program, organization: VendorOrganization) -> Program:
    base = f"sandbox-{organization.slug}-{program.slug}"[:52]
    slug = base
    n = 1
    while Program.objects.filter(utility=program.utility, slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    sandbox = Program(
        utility=program.utility,
        name=f"Sandbox: {organization.name} / {program.name}"[:120],
        slug=slug,
        status=program.status,
        profile=program.profile,
        primacy=program.primacy,
        is_sandbox=True,
        poll_rate_s=program.poll_rate_s,
        post_rate_s=program.post_rate_s,
        telemetry_cadence_s=program.telemetry_cadence_s,
        control_delivery_s=program.control_delivery_s,
        # Permissive rules: conformance procedures schedule many short events.
        max_events_per_year=None,
        max_events_per_day=None,
        min_duration_min=1,
        max_duration_min=1440,
        min_notice_min=0,
        min_rest_min=0,
        reserve_soc_pct=program.reserve_soc_pct,
        default_export_limit_w=program.default_export_limit_w or 5000,
    )
    sandbox.full_clean()
    sandbox.save()
    DispatchGroup.objects.create(utility=program.utility, program=sandbox, name="Sandbox")
    return sandbox


@transaction.atomic
def application_create(
    *, organization: VendorOrganization, program: Program, submit: bool = True
) -> VendorApplication:
    """Apply to a production program; the application gets its own sandbox program."""
    if program.is_sandbox:
        raise ValidationError({"program": "Apply to a production program, not a sandbox."})
    application = VendorApplication(
        utility=program.utility,
        organization=organization,
        program=program,
        status=ApplicationStatus.SUBMITTED if submit else ApplicationStatus.DRAFT,
    )
    application.sandbox_program = _sandbox_for(program, organization)
    application.full_clean()
    application.save()
    return application


@transaction.atomic
def application_approve(
    *, application: VendorApplication, run: ConformanceRun, actor, now: datetime | None = None
) -> list[QualifiedEquipment]:
    """Approve on a passing run: the organisation's products become qualified equipment."""
    if run.application_id != application.pk or run.status != "passed":
        raise ValidationError("Approve only on a passing run of this application.")
    now = now or timezone.now()
    rows = []
    for product in ProductModel.objects.filter(organization=application.organization):
        row, _ = QualifiedEquipment.objects.update_or_create(
            utility=application.utility,
            program=application.program,
            vendor_name=product.vendor_name,
            model_name=product.model_name,
            defaults={
                "nameplate_w": int(product.power_kw * 1000),
                "nameplate_wh": int(product.energy_kwh * 1000),
                "note": f"Proved by conformance run #{run.pk}",
            },
        )
        rows.append(row)
    application.status = ApplicationStatus.APPROVED
    application.approved = True
    application.conformance_passed = True
    application.approved_by = actor
    application.approved_at = now
    application.approved_run_id = run.pk
    application.save()
    emails = list(
        application.organization.members.values_list("user__email", flat=True).exclude(
            user__email=""
        )
    )
    if emails:
        from enrollment.tasks import vendor_notify

        transaction.on_commit(
            lambda: vendor_notify.delay(
                emails,
                f"Approved for {application.program.name}",
                f"{application.organization.name} is approved (conformance run #{run.pk}).",
            )
        )
    return rows
