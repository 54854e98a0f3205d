"""Reads for vendors."""

from dataclasses import dataclass
from datetime import datetime

from django.urls import reverse

from vendors.choices import ContactKind, RunStatus
from vendors.models import (
    ConformanceRun,
    IssuedCertificate,
    ProductModel,
    VendorApplication,
    VendorContact,
    VendorMembership,
)
from vendors.registry import engine


def vendor_membership(user) -> VendorMembership | None:
    """The user's vendor membership (the first, if several), or None."""
    if not user.is_authenticated:
        return None
    return (
        VendorMembership.objects.select_related("organization")
        .filter(user=user)
        .order_by("pk")
        .first()
    )


def _s(n: int) -> str:
    return "" if n == 1 else "s"


@dataclass(frozen=True)
class OnboardingStep:
    """One step of a vendor's way onto a program: done or to do, and where to do it."""

    key: str
    label: str
    done: bool
    detail: str
    url: str
    action: str


def vendor_onboarding(*, organization) -> list[OnboardingStep]:
    """The onboarding checklist of a vendor organisation, over all its applications: the
    organisation profile, products, a client certificate, the sandbox connected, a
    conformance run passed, and approval."""
    home = reverse("vendors:vendor-home")
    applications = list(
        VendorApplication.objects.filter(organization=organization)
        .select_related("program", "program__utility", "sandbox_program")
        .order_by("-created_at")
    )
    latest = applications[0] if applications else None

    def application_url(application, anchor=""):
        if application is None:
            return f"{home}#apply"
        return reverse("vendors:vendor-application", args=[application.pk]) + anchor

    technical = VendorContact.objects.filter(
        organization=organization, kind=ContactKind.TECHNICAL
    ).count()
    products = ProductModel.objects.filter(organization=organization).count()
    certificates = list(
        IssuedCertificate.objects.filter(application__organization=organization, revoked=False)
        .select_related("application")
        .order_by("-created_at")
    )
    passed = (
        ConformanceRun.objects.filter(
            application__organization=organization, status=RunStatus.PASSED
        )
        .select_related("application")
        .order_by("-finished_at")
        .first()
    )
    approved = next((a for a in applications if a.approved), None)

    seen: datetime | None = None
    seen_application = None
    by_application: dict[int, list[str]] = {}
    for cert in certificates:
        by_application.setdefault(cert.application_id, []).append(cert.lfdi)
    for application in applications:
        lfdis = by_application.get(application.pk)
        if not lfdis or application.sandbox_program_id is None:
            continue
        at = engine().sandbox_client_last_seen(
            utility_id=application.utility_id,
            lfdis=lfdis,
            program_ids=[application.sandbox_program_id],
        )
        if at is not None and (seen is None or at > seen):
            seen, seen_application = at, application
    cert_application = certificates[0].application if certificates else latest

    return [
        OnboardingStep(
            "profile",
            "Organisation profile",
            technical > 0,
            f"{organization.name}, with {technical} technical contact{_s(technical)}."
            if technical
            else "Add a technical contact: the person a utility calls about your client.",
            reverse("vendors:vendor-contacts"),
            "Contacts",
        ),
        OnboardingStep(
            "products",
            "Products",
            products > 0,
            f"{products} product{_s(products)} listed."
            if products
            else "List the battery models your client controls.",
            f"{home}#products",
            "Products",
        ),
        OnboardingStep(
            "certificate",
            "Client certificate",
            bool(certificates),
            f"{len(certificates)} certificate{_s(len(certificates))} in force."
            if certificates
            else (
                "Issue a client certificate for your 2030.5 client from your application."
                if latest
                else "Apply to a program first; each application has its own sandbox."
            ),
            application_url(cert_application, "#certificates"),
            "Certificates" if latest else "Apply to a program",
        ),
        OnboardingStep(
            "sandbox",
            "Sandbox connected",
            seen is not None,
            f"Your client last called the sandbox at {seen:%Y-%m-%d %H:%M} UTC."
            if seen
            else "Point your 2030.5 client, with its certificate, at your sandbox program.",
            application_url(seen_application or cert_application, "#sandbox"),
            "Sandbox",
        ),
        OnboardingStep(
            "conformance",
            "Conformance run",
            passed is not None,
            f"Run {passed.pk} passed." if passed else "Run the conformance procedures and pass.",
            reverse("vendors:vendor-run", args=[passed.pk])
            if passed
            else application_url(cert_application, "#runs"),
            "Run report" if passed else "Runs",
        ),
        OnboardingStep(
            "approval",
            "Approval",
            approved is not None,
            f"Approved by {approved.program.utility.name} for {approved.program.name}."
            if approved
            else "The utility approves your application once a run has passed.",
            application_url(approved or latest),
            "Application" if (approved or latest) else "Apply to a program",
        ),
    ]
