"""Every eligibility rule, passing and failing, stored with its reason."""

from decimal import Decimal

import pytest

from enrollment.choices import EligibilityRule as R
from enrollment.choices import EnrollmentState as S
from enrollment.models import AccountWhitelist
from tests import factories
from tests.enrollment.conftest import make_setup, submit

pytestmark = pytest.mark.django_db


def result(enrollment, rule):
    return enrollment.eligibility_results.get(rule=rule)


def test_a_good_application_passes_every_rule_and_is_eligible(setup):
    e = submit(setup)
    assert e.state == S.ELIGIBLE
    results = list(e.eligibility_results.all())
    assert {r.rule for r in results} == set(R.values)
    assert all(r.passed for r in results), [(r.rule, r.reason) for r in results]
    assert e.transitions.count() == 2


def test_territory_fails_outside_the_service_area(setup):
    e = submit(setup, state_code="TX", zip_code="75001")
    assert e.state == S.INELIGIBLE
    r = result(e, R.TERRITORY)
    assert not r.passed and "does not serve ZIP 75001 in TX" in r.reason
    assert "75001" in e.state_reason


def test_account_format_fails_for_a_malformed_number(setup):
    e = submit(setup, account_number="12AB")
    r = result(e, R.ACCOUNT_FORMAT)
    assert not r.passed and "10 digits" in r.reason
    assert result(submit(setup), R.ACCOUNT_FORMAT).passed


def test_whitelist_required_passes_only_listed_accounts(setup):
    setup.rules.whitelist_required = True
    setup.rules.save()
    AccountWhitelist.objects.create(utility=setup.utility, account_number="5559990001")
    listed = submit(setup, account_number="5559990001")
    unlisted = submit(setup, account_number="5559990002")
    assert result(listed, R.WHITELIST).passed
    assert not result(unlisted, R.WHITELIST).passed
    assert unlisted.state == S.INELIGIBLE


def test_whitelist_of_another_utility_does_not_count(setup, utility_b):
    setup.rules.whitelist_required = True
    setup.rules.save()
    AccountWhitelist.objects.create(utility=utility_b, account_number="5559990003")
    assert not result(submit(setup, account_number="5559990003"), R.WHITELIST).passed


def test_unqualified_model_fails(setup):
    e = submit(setup, model_name="NW-99")
    r = result(e, R.QUALIFIED_MODEL)
    assert not r.passed and "NW-99" in r.reason
    assert result(submit(setup), R.QUALIFIED_MODEL).passed


def test_min_kw_and_min_kwh_come_from_the_nameplate(setup):
    small = submit(setup, model_name="NW-2")
    assert not result(small, R.MIN_KW).passed
    assert "2 kW" in result(small, R.MIN_KW).reason
    assert not result(small, R.MIN_KWH).passed
    assert "4 kWh" in result(small, R.MIN_KWH).reason
    big = submit(setup)
    assert result(big, R.MIN_KW).passed and result(big, R.MIN_KWH).passed


def test_not_enrolled_fails_for_a_battery_already_enrolled_elsewhere(setup):
    submit(setup, serial="DUP-1")
    other = make_setup(setup.utility, slug="second")
    e = submit(other, serial="dup-1")
    r = result(e, R.NOT_ENROLLED)
    assert not r.passed and "serial" in r.reason


def test_not_enrolled_passes_once_the_earlier_enrollment_is_closed(setup):
    from enrollment import services

    first = submit(setup, serial="DUP-2")
    services.enrollment_withdraw(enrollment=first, actor=None)
    other = make_setup(setup.utility, slug="third")
    assert result(submit(other, serial="DUP-2"), R.NOT_ENROLLED).passed


def test_conflicting_program_fails_when_the_site_is_in_one(setup):
    rival = make_setup(setup.utility, slug="rival")
    submit(rival, street="5 Pine Street", account_number="5551112222")
    setup.rules.conflicting_programs.add(rival.program)
    clash = submit(setup, street="5 pine st.", account_number="5551113333")
    r = result(clash, R.CONFLICTING_PROGRAM)
    assert not r.passed and rival.program.name in r.reason
    assert result(submit(setup, street="6 Pine Street"), R.CONFLICTING_PROGRAM).passed


def test_exclusion_flags_are_honoured(setup):
    AccountWhitelist.objects.create(
        utility=setup.utility, account_number="5557770001", excluded=True,
        exclusion_reason="past due",
    )  # fmt: skip
    AccountWhitelist.objects.create(
        utility=setup.utility, account_number="5557770002", medical_baseline=True
    )
    excluded = submit(setup, account_number="5557770001")
    assert not result(excluded, R.EXCLUSION).passed
    assert "past due" in result(excluded, R.EXCLUSION).reason
    # Medical baseline only counts when the program says so.
    first_medical = submit(setup, account_number="5557770002")
    assert result(first_medical, R.EXCLUSION).passed
    setup.rules.exclude_medical_baseline = True
    setup.rules.honour_exclusions = False
    setup.rules.save()
    from enrollment import services

    services.enrollment_withdraw(enrollment=excluded, actor=None)
    services.enrollment_withdraw(enrollment=first_medical, actor=None)
    medical = submit(setup, account_number="5557770002", street="1 Other Street")
    assert not result(medical, R.EXCLUSION).passed
    # With exclusions not honoured, the excluded flag no longer fails the rule.
    assert result(submit(setup, account_number="5557770001", street="9 Far St"), R.EXCLUSION).passed


def test_batteries_per_site_above_the_limit_needs_preapproval(setup):
    other = make_setup(setup.utility, slug="other")
    submit(other, street="8 Oak Street", account_number="5553330001")
    second = submit(setup, street="8 Oak St", account_number="5553330002")
    r = result(second, R.BATTERIES_PER_SITE)
    assert not r.passed and "pre-approval" in r.reason
    AccountWhitelist.objects.create(
        utility=setup.utility, account_number="5553330003", preapproved=True
    )
    third_program = make_setup(setup.utility, slug="third-program")
    preapproved = submit(third_program, street="8 Oak Street", account_number="5553330003")
    assert result(preapproved, R.BATTERIES_PER_SITE).passed


def test_rules_are_data_per_program(setup):
    setup.rules.min_kw = Decimal("1")
    setup.rules.min_kwh = Decimal("1")
    setup.rules.save()
    assert submit(setup, model_name="NW-2").state == S.ELIGIBLE


def test_recheck_after_the_whitelist_changes(setup):
    from enrollment import services

    setup.rules.whitelist_required = True
    setup.rules.save()
    e = submit(setup, account_number="5554440001")
    assert e.state == S.INELIGIBLE
    AccountWhitelist.objects.create(utility=setup.utility, account_number="5554440001")
    e = services.enrollment_check_eligibility(enrollment=e, actor=setup.manager)
    assert e.state == S.ELIGIBLE


def test_factories_enrollment_is_usable(utility_a):
    assert factories.enrollment(utility_a).state == S.SUBMITTED
