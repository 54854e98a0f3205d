from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest
from django.core.cache import cache

from enrollment import services
from enrollment.models import EligibilityRules, IncentiveRates, ProgramTerms
from programs.models import Program, QualifiedEquipment
from tenancy.choices import Role
from tenancy.models import TerritoryArea
from tests import factories


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    # The limiter counts in the cache; each test starts from zero.
    cache.clear()
    yield
    cache.clear()


@dataclass
class Setup:
    utility: object
    program: Program
    equipment: QualifiedEquipment
    small: QualifiedEquipment
    terms: ProgramTerms
    rates: IncentiveRates
    rules: EligibilityRules
    manager: object


def make_setup(utility, slug="battery-savers") -> Setup:
    TerritoryArea.objects.get_or_create(utility=utility, state="OR", zip_prefix="97")
    program = factories.program(utility, name=f"Battery Savers {slug}", slug=slug,
                                status="enrolling")  # fmt: skip
    equipment = QualifiedEquipment.objects.create(
        utility=utility, program=program, vendor_name="Northwind", model_name="NW-13",
        nameplate_w=5000, nameplate_wh=13_500,
    )  # fmt: skip
    small = QualifiedEquipment.objects.create(
        utility=utility, program=program, vendor_name="Northwind", model_name="NW-2",
        nameplate_w=2000, nameplate_wh=4_000,
    )  # fmt: skip
    terms = factories.program_terms(utility, prog=program)
    rates = IncentiveRates.objects.create(
        utility=utility, program=program, upfront_per_kw=Decimal("150"),
        upfront_cap=Decimal("1000"), participation_credit_per_kw=Decimal("4"),
    )  # fmt: skip
    rules = EligibilityRules.objects.create(
        utility=utility, program=program, account_number_regex=r"[0-9]{10}",
        account_number_hint="10 digits", min_kw=Decimal("3"), min_kwh=Decimal("9"),
    )  # fmt: skip
    manager = factories.member(utility, Role.PROGRAM_MANAGER)
    return Setup(utility, program, equipment, small, terms, rates, rules, manager)


@pytest.fixture
def setup(utility_a) -> Setup:
    return make_setup(utility_a)


_n = iter(range(1, 10_000))


def submit(setup: Setup, **overrides):
    n = next(_n)
    fields = {
        "program": setup.program,
        "customer": None,
        "email": f"c{n}@example.test",
        "street": f"{n} Alder Street",
        "city": "Portland",
        "state_code": "OR",
        "zip_code": "97201",
        "account_number": f"{5550000000 + n}",
        "vendor_name": "Northwind",
        "model_name": "NW-13",
        "serial": f"NW-{n:05d}",
        "install_date": date(2026, 4, 1),
        "has_solar": False,
        "solar_kw": None,
        "terms": setup.terms,
    }
    fields.update(overrides)
    return services.enrollment_submit(**fields)
