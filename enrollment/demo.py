"""Demo objects for enrollment: Cascadia's "Battery Savers" program, modelled on a
Wattsmart-style BYOD offer, with terms, rates, rules and enrollments in several states.
"""

from datetime import date, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils import timezone

from devices.models import Device
from enrollment import services
from enrollment.choices import EnrollmentState
from enrollment.models import (
    Customer,
    EligibilityRules,
    Enrollment,
    IncentiveRates,
    ProgramTerms,
)
from programs.choices import ProgramStatus
from programs.models import Program, QualifiedEquipment
from tenancy.models import Utility

PROGRAM_SLUG = "battery-savers"
EQUIPMENT = (
    ("Northwind Storage", "NW-10", 5000, 10_000),
    ("Northwind Storage", "NW-13", 5000, 13_500),
    ("Helio Cell", "HC Home 9.8", 5000, 9_800),
    ("Terrace Power", "TP Wall 16", 7600, 16_000),
)
TERMS = "\n\n".join(
    (
        # The clauses that restate the program's rules (caps, window, reserve, incentives) are
        # written from the rules themselves (enrollment.selectors.program_terms_rules).
        "Cascadia Battery Savers: terms and conditions (version 1)",
        "You may opt out of any event from your account page.",
        "Your battery must stay connected to the internet so that it can be dispatched and "
        "its readings verified.",
    )
)


def _customer(utility, email, name, password):
    User = get_user_model()
    user, created = User.objects.get_or_create(username=email, defaults={"email": email})
    if created:
        user.set_password(password)
        user.save(update_fields=["password"])
    customer, _ = Customer.objects.get_or_create(
        user=user, defaults={"utility": utility, "name": name}
    )
    return customer


def enrollment_demo_seed(*, base_url: str, password: str) -> dict:
    """Create (or find) the Battery Savers program and its enrollments; return what to record."""
    utility = Utility.objects.get(slug="cascadia")
    program, _ = Program.objects.get_or_create(
        utility=utility,
        slug=PROGRAM_SLUG,
        defaults={
            "name": "Cascadia Battery Savers",
            "status": ProgramStatus.ENROLLING,
            "description": "Earn $500 per kW upfront and $15 per kW a year for letting us use "
            "your home battery for a few hours on the hottest and coldest days.",
            "max_events_per_year": 80,  # as programs.demo: its seasons' 60 + 20
            "window_start": "14:00",
            "window_end": "21:00",
        },
    )
    for vendor, model, watts, wh in EQUIPMENT:
        QualifiedEquipment.objects.get_or_create(
            utility=utility,
            program=program,
            vendor_name=vendor,
            model_name=model,
            defaults={"nameplate_w": watts, "nameplate_wh": wh},
        )
    terms, _ = ProgramTerms.objects.get_or_create(
        utility=utility,
        program=program,
        version=1,
        defaults={"body": TERMS, "published_at": timezone.now() - timedelta(days=30)},
    )
    IncentiveRates.objects.get_or_create(
        utility=utility,
        program=program,
        defaults={
            # As the program's description says: $500/kW upfront and $15/kW each year.
            "upfront_per_kw": Decimal("500.00"),
            "upfront_cap": Decimal("5000.00"),
            "participation_credit_per_kw": Decimal("15.00"),
            "credit_period": "annual",
        },
    )
    EligibilityRules.objects.get_or_create(
        utility=utility,
        program=program,
        defaults={
            "account_number_regex": r"[0-9]{10}",
            "account_number_hint": "10 digits, as printed on your bill",
            "min_kw": Decimal("3"),
            "min_kwh": Decimal("9"),
        },
    )
    if not Enrollment.objects.filter(program=program).exists():
        manager = get_user_model().objects.filter(username="pm@cascadia.example").first()
        _demo_enrollments(utility, program, terms, password, manager)
    url = f"{base_url}/enroll/{utility.slug}/{program.slug}/"
    return {
        "program": program.name,
        "url": url,
        "review_queue": f"{base_url}/enrollments/",
        "customer_page": f"{base_url}/my/",
        "customer_login": "customer@cascadia.example",
        "sample_account_number": "5550001234",
        "in_territory_zip": "97201 (OR) or 98101 (WA)",
    }


def _demo_enrollments(utility, program, terms, password, manager):
    base = {
        "program": program,
        "state_code": "OR",
        "zip_code": "97201",
        "city": "Portland",
        "install_date": date(2026, 4, 15),
        "has_solar": False,
        "solar_kw": None,
        "terms": terms,
    }
    casey = _customer(utility, "customer@cascadia.example", "Casey Customer", password)
    specs = [
        (casey, "12 Alder St", "5550001234", "Northwind Storage", "NW-13", "NWS-0001", "active"),
        (None, "40 Birch Ave", "5550002001", "Helio Cell", "HC Home 9.8", "HC-2001", "eligible"),
        (None, "7 Cedar Rd", "5550002002", "Terrace Power", "TP Wall 16", "TP-2002", "eligible"),
        (None, "99 Dogwood Ln", "5550002003", "Northwind Storage", "NW-10", "NWS-2003", "approved"),
        (None, "3 Elm Ct", "ABC", "Helio Cell", "HC Home 9.8", "HC-2004", "ineligible"),
    ]
    for n, (customer, street, account, vendor, model, serial, goal) in enumerate(specs):
        # Applicants without a login: the customer account is made when they finish online.
        enrollment = services.enrollment_submit(
            customer=customer,
            email=customer.user.email if customer else f"applicant{n}@cascadia.example",
            street=street,
            account_number=account,
            vendor_name=vendor,
            model_name=model,
            serial=serial,
            **base,
        )
        if goal in ("approved", "active") and enrollment.state == EnrollmentState.ELIGIBLE:
            if goal == "active":
                device = Device.objects.filter(utility=utility, serial=serial).first()
                if device is None:
                    device = Device.objects.create(
                        utility=utility, vendor_name=vendor, model_name=model, serial=serial,
                        max_charge_w=5000, max_discharge_w=5000, capacity_wh=13_500,
                        state="OR", zip_code="97201", soc_pct=64, power_w=0,
                        last_heard_at=timezone.now(),
                    )  # fmt: skip
            services.enrollment_approve(enrollment=enrollment, actor=manager, reason="Demo.")
