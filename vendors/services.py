"""Writes for vendors: sign-up, applications with their sandbox, approval on a passing
conformance run, the operators' decisions on organisations, team, contacts and products,
and launching conformance runs (the 2030.5 side is reached through `vendors.registry`).
"""

from datetime import datetime

from celery import current_app
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from programs.models import DefaultControl, DispatchGroup, Program, QualifiedEquipment
from vendors.choices import ApplicationStatus, RunStatus, VendorRole, VendorStatus
from vendors.models import (
    ConformanceRun,
    IssuedCertificate,
    ProductModel,
    VendorApplication,
    VendorContact,
    VendorMembership,
    VendorOrganization,
)
from vendors.registry import engine
from vendors.roles import Capability, organization_refusal, vendor_capability_check
from vendors.signals import certificates_revoked
from vendors.tasks import vendor_notify

# Vendor onboarding: sign-up, applications with their sandbox, approval.


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
    )
    sandbox.full_clean()
    sandbox.save()
    group = DispatchGroup.objects.create(utility=program.utility, program=sandbox, name="Sandbox")
    # The sandbox's DefaultDERControl: the program's default export limit (the largest of
    # its groups'), else 5 kW, so a client under test always has a default to read.
    limits = DefaultControl.objects.for_utility(program.utility_id).filter(
        group__program=program, op_mod_exp_lim_w__isnull=False
    )
    limit_w = max(limits.values_list("op_mod_exp_lim_w", flat=True), default=None)
    DefaultControl.objects.create(
        utility=program.utility, group=group, op_mod_exp_lim_w=limit_w or 5000
    )
    return sandbox


@transaction.atomic
def application_create(
    *, organization: VendorOrganization, program: Program, submit: bool = True, actor=None
) -> VendorApplication:
    """Apply to a production program; the application gets its own sandbox program.

    A pending organisation may apply (it tests once approved); a rejected or suspended
    one may not. When a user asks (`actor`), only an administrator of the organisation.
    """
    if actor is not None:
        vendor_capability_check(user=actor, organization=organization, capability=Capability.MANAGE)
    if organization.status in (VendorStatus.REJECTED, VendorStatus.SUSPENDED):
        raise ValidationError(organization_refusal(organization))
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
        transaction.on_commit(
            lambda: vendor_notify.delay(
                emails,
                f"Approved for {application.program.name}",
                f"{application.organization.name} is approved (conformance run #{run.pk}).",
            )
        )
    return rows


# Vendor organisations: operator approval, team, contacts.

# to-status → the statuses an organisation may be moved from.
VENDOR_ALLOWED = {
    VendorStatus.APPROVED: {VendorStatus.PENDING, VendorStatus.SUSPENDED},
    VendorStatus.REJECTED: {VendorStatus.PENDING},
    VendorStatus.SUSPENDED: {VendorStatus.APPROVED},
}


def _vendor_emails(organization: VendorOrganization, *, roles=None) -> list[str]:
    members = organization.members.exclude(user__email="").filter(user__is_active=True)
    if roles is not None:
        members = members.filter(role__in=roles)
    return sorted(set(members.values_list("user__email", flat=True)))


def _vendor_email_on_commit(
    *, organization: VendorOrganization, kind: str, recipients: list[str], **context
) -> None:
    from vendors.notifications import render_vendor_notice

    if not recipients:
        return
    subject, body = render_vendor_notice(organization=organization, kind=kind, **context)
    transaction.on_commit(lambda: vendor_notify.delay(recipients, subject, body))


# The 2030.5 side rewrites nginx's CA bundle and CRLs (protocol.tasks, queued by name).
TRUST_WRITE_TASK = "protocol.sep2_trust_write"


def trust_write_on_commit() -> None:
    """Have nginx's program CA bundle and CRLs rewritten (and nginx reloaded) after commit."""
    transaction.on_commit(
        lambda: current_app.send_task(TRUST_WRITE_TASK, expires=3600), robust=True
    )


def vendor_certificates_revoke(*, organization: VendorOrganization, now: datetime) -> int:
    """Revoke every live certificate of the organisation; the 2030.5 server is told at once.

    Runs still going stop with an error: their client can no longer take part.
    """
    ConformanceRun.objects.filter(
        application__organization=organization, status__in=[RunStatus.QUEUED, RunStatus.RUNNING]
    ).update(status=RunStatus.ERROR, finished_at=now)
    certificates = list(
        IssuedCertificate.objects.filter(
            application__organization=organization, revoked=False
        ).select_for_update()
    )
    if not certificates:
        return 0
    IssuedCertificate.objects.filter(pk__in=[c.pk for c in certificates]).update(
        revoked=True, revoked_at=now
    )
    certificates_revoked.send(
        sender=IssuedCertificate,
        certificates=[(c.utility_id, c.lfdi) for c in certificates],
        now=now,
    )
    trust_write_on_commit()
    return len(certificates)


def _vendor_status_set(
    *, organization: VendorOrganization, to: str, actor, reason: str, now: datetime | None
) -> VendorOrganization:
    org = VendorOrganization.objects.select_for_update().get(pk=organization.pk)
    if org.status not in VENDOR_ALLOWED[to]:
        raise ValidationError(
            f"{org.name} is {org.get_status_display().lower()}; "
            f"it cannot be {VendorStatus(to).label.lower()} from there."
        )
    reason = reason.strip()
    if len(reason) > 500:
        raise ValidationError({"reason": "Keep the reason under 500 characters."})
    org.status = to
    org.status_reason = reason
    org.status_changed_at = now or timezone.now()
    org.status_changed_by = actor if getattr(actor, "is_authenticated", False) else None
    org.full_clean()
    org.save(update_fields=["status", "status_reason", "status_changed_at", "status_changed_by"])
    for name in ("status", "status_reason", "status_changed_at"):
        setattr(organization, name, getattr(org, name))  # the caller's copy is current too
    return org


@transaction.atomic
def vendor_organization_approve(
    *, organization: VendorOrganization, actor, now: datetime | None = None
) -> VendorOrganization:
    """Let the organisation get certificates and run conformance procedures."""
    org = _vendor_status_set(
        organization=organization, to=VendorStatus.APPROVED, actor=actor, reason="", now=now
    )
    _vendor_email_on_commit(
        organization=org, kind="vendor_approved", recipients=_vendor_emails(org)
    )
    return org


@transaction.atomic
def vendor_organization_reject(
    *, organization: VendorOrganization, actor, reason: str, now: datetime | None = None
) -> VendorOrganization:
    """Refuse a pending registration (with the reason, which the vendor is told)."""
    if not reason or not reason.strip():
        raise ValidationError({"reason": "Say why the organisation is rejected."})
    org = _vendor_status_set(
        organization=organization, to=VendorStatus.REJECTED, actor=actor, reason=reason, now=now
    )
    revoked = vendor_certificates_revoke(organization=org, now=org.status_changed_at)
    _vendor_email_on_commit(
        organization=org, kind="vendor_rejected", recipients=_vendor_emails(org), revoked=revoked
    )
    return org


@transaction.atomic
def vendor_organization_suspend(
    *, organization: VendorOrganization, actor, reason: str = "", now: datetime | None = None
) -> VendorOrganization:
    """Stop an approved organisation: its certificates are revoked at once."""
    org = _vendor_status_set(
        organization=organization, to=VendorStatus.SUSPENDED, actor=actor, reason=reason, now=now
    )
    revoked = vendor_certificates_revoke(organization=org, now=org.status_changed_at)
    _vendor_email_on_commit(
        organization=org, kind="vendor_suspended", recipients=_vendor_emails(org), revoked=revoked
    )
    return org


def vendor_organization_check_approved(*, organization: VendorOrganization) -> None:
    """ValidationError saying why, unless the organisation may get certificates and run.

    Locks the organisation's row, so a suspension cannot slip between this check and the
    caller's certificate or run (callers run in a transaction).
    """
    current = VendorOrganization.objects.select_for_update().filter(pk=organization.pk).first()
    refusal = organization_refusal(current or organization)
    if refusal:
        raise ValidationError(refusal)


def _admins_left(organization: VendorOrganization, *, excluding: VendorMembership) -> int:
    return (
        VendorMembership.objects.filter(organization=organization, role=VendorRole.ADMIN)
        .exclude(pk=excluding.pk)
        .count()
    )


def _lock_members(organization: VendorOrganization) -> None:
    # One writer at a time per organisation, so two admins cannot demote each other at once.
    VendorOrganization.objects.select_for_update().filter(pk=organization.pk).first()


@transaction.atomic
def vendor_member_invite(
    *, organization: VendorOrganization, email: str, role: str, actor, base_url: str
) -> VendorMembership:
    """A new user of the organisation, emailed a one-time link to choose a password."""
    from django.contrib.auth.tokens import default_token_generator
    from django.core.validators import validate_email
    from django.urls import reverse
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    vendor_capability_check(user=actor, organization=organization, capability=Capability.MANAGE)
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": "Enter a valid email address."}) from None
    if role not in VendorRole.values:
        raise ValidationError({"role": f"Choose one of: {', '.join(VendorRole.values)}."})
    _lock_members(organization)
    User = get_user_model()
    if User.objects.filter(Q(email__iexact=email) | Q(username__iexact=email)).exists():
        raise ValidationError(
            {"email": "An account with this email exists already; invite another address."}
        )
    user = User.objects.create_user(username=email, email=email)  # unusable password
    membership = VendorMembership(organization=organization, user=user, role=role)
    membership.full_clean()
    membership.save()
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    link = base_url.rstrip("/") + reverse("vendors:vendor-invite", args=[uid, token])
    _vendor_email_on_commit(
        organization=organization,
        kind="vendor_invitation",
        recipients=[email],
        link=link,
        role=VendorRole(role).label,
        inviter=actor.email or actor.get_username(),
    )
    return membership


def vendor_invitation_user(*, uidb64: str, token: str):
    """The invited user whose one-time link this is, or None (unknown, used or forged)."""
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.http import urlsafe_base64_decode

    try:
        pk = int(urlsafe_base64_decode(uidb64).decode())
    except (TypeError, ValueError, OverflowError, UnicodeDecodeError):
        return None
    user = get_user_model().objects.filter(pk=pk, vendor_memberships__isnull=False).first()
    if user is None or not user.is_active or not default_token_generator.check_token(user, token):
        return None
    return user


@transaction.atomic
def vendor_member_role_change(
    *, membership: VendorMembership, role: str, actor
) -> VendorMembership:
    """Change a member's role; the organisation always keeps at least one administrator."""
    vendor_capability_check(
        user=actor, organization=membership.organization, capability=Capability.MANAGE
    )
    if role not in VendorRole.values:
        raise ValidationError({"role": f"Choose one of: {', '.join(VendorRole.values)}."})
    _lock_members(membership.organization)
    membership = VendorMembership.objects.get(pk=membership.pk)
    if (
        membership.role == VendorRole.ADMIN
        and role != VendorRole.ADMIN
        and not _admins_left(membership.organization, excluding=membership)
    ):
        raise ValidationError("The last administrator cannot be demoted; make another one first.")
    membership.role = role
    membership.full_clean()
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def vendor_member_remove(*, membership: VendorMembership, actor) -> None:
    """Remove a member; the last administrator stays. The account can no longer sign in."""
    vendor_capability_check(
        user=actor, organization=membership.organization, capability=Capability.MANAGE
    )
    _lock_members(membership.organization)
    membership = VendorMembership.objects.select_related("user").get(pk=membership.pk)
    if membership.role == VendorRole.ADMIN and not _admins_left(
        membership.organization, excluding=membership
    ):
        raise ValidationError("The last administrator cannot be removed; make another one first.")
    user = membership.user
    membership.delete()
    # An account that now belongs nowhere cannot sign in; utility staff keep theirs.
    if not (user.vendor_memberships.exists() or user.memberships.exists() or user.is_staff):
        user.is_active = False
        user.save(update_fields=["is_active"])


CONTACT_FIELDS = ("name", "email", "phone", "kind", "topic")


@transaction.atomic
def vendor_contact_save(
    *, organization: VendorOrganization, actor, contact: VendorContact | None = None, **fields
) -> VendorContact:
    """Create (contact=None) or update one of the organisation's contacts (administrators)."""
    vendor_capability_check(user=actor, organization=organization, capability=Capability.MANAGE)
    if contact is not None and contact.organization_id != organization.pk:
        raise ValidationError("Not a contact of this organisation.")
    unknown = set(fields) - set(CONTACT_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown fields: {', '.join(sorted(unknown))}")
    contact = contact or VendorContact(organization=organization)
    for name, value in fields.items():
        setattr(contact, name, value.strip() if isinstance(value, str) else value)
    contact.full_clean()
    contact.save()
    return contact


@transaction.atomic
def vendor_contact_delete(*, contact: VendorContact, actor) -> None:
    vendor_capability_check(
        user=actor, organization=contact.organization, capability=Capability.MANAGE
    )
    contact.delete()


@transaction.atomic
def vendor_product_create(*, organization: VendorOrganization, actor, **fields) -> ProductModel:
    """Add a product the organisation brings to programs (administrators)."""
    vendor_capability_check(user=actor, organization=organization, capability=Capability.MANAGE)
    product = ProductModel(organization=organization, **fields)
    product.full_clean()
    product.save()
    return product


# Conformance runs: create, start recording, and queue the driving task after commit.


@transaction.atomic
def conformance_run_launch(
    *,
    application: VendorApplication,
    procedures: list[str] | None = None,
    time_scale: float = 1.0,
    parameters: dict | None = None,
    actor=None,
) -> ConformanceRun:
    """A new run (earlier runs stay as history), driven by a Celery task.

    Only for an approved organisation, and, when a user asks (`actor`), one whose role
    may test. The task is `protocol`'s, queued by its name.
    """
    if actor is not None:
        vendor_capability_check(
            user=actor, organization=application.organization, capability=Capability.TEST
        )
    vendor_organization_check_approved(organization=application.organization)
    conformance = engine()
    run = conformance.run_create(
        application=application,
        procedures=procedures,
        time_scale=time_scale,
        parameters=parameters,
        actor=actor,
    )
    conformance.run_start(run=run)
    transaction.on_commit(
        lambda: current_app.send_task("protocol.conformance_run", args=[run.pk], expires=3600)
    )
    return run
