"""Incentive rates and payment rules are a program manager's to edit in the portal, never in
admin, and every change is kept (issue 19)."""

from decimal import Decimal

import pytest
from django.urls import reverse

from enrollment.models import IncentiveRates
from programs.models import ProgramChange
from settlement.models import SettlementRules
from tenancy.choices import Role
from tests import factories

pytestmark = pytest.mark.django_db


def form_data(**overrides) -> dict:
    data = {
        "incentives-upfront_per_kw": "150.00",
        "incentives-upfront_cap": "1500.00",
        "incentives-participation_credit_per_kw": "2.50",
        "incentives-credit_period": "monthly",
        "incentives-clawback_months": "36",
        "payment-kw_season_rate": "40.00",
        "payment-kwh_rate": "0.25",
        "payment-participation_rate": "0",
        "payment-participation_period": "month",
        "payment-upfront_rate": "0",
        "payment-commitment_months": "0",
        "payment-rounding": "half_up",
        "payment-performance_factor_cap": "1.000",
        "payment-min_performance_factor": "0",
        "payment-baseline_method": "battery_telemetry",
        "payment-meter_before_minutes": "30",
        "payment-ten_in_ten_adjust": "on",
        "payment-min_coverage_pct": "90",
        "payment-offline_after_s": "600",
        "payment-on_missing_intervals": "prorate",
        "payment-on_stale": "exclude",
        "payment-on_opt_out": "zero",
        "payment-on_offline": "zero",
    }
    return {**data, **overrides}


@pytest.fixture
def program():
    return factories.program(factories.utility())


def url(program):
    return reverse("portal:program-incentives", args=[program.pk])


def test_a_manager_sets_the_rates_and_the_change_is_kept(client, program):
    pm = factories.member(program.utility, Role.PROGRAM_MANAGER)
    client.force_login(pm)
    assert client.get(url(program)).status_code == 200

    response = client.post(url(program), form_data())
    assert response.status_code == 302, response.content.decode()[:2000]
    rates = IncentiveRates.objects.get(program=program)
    assert (rates.upfront_per_kw, rates.participation_credit_per_kw) == (
        Decimal("150.00"),
        Decimal("2.50"),
    )
    assert SettlementRules.objects.get(program=program).kwh_rate == Decimal("0.25")
    assert set(program.changes.values_list("part", flat=True)) == {"incentives", "payment"}

    client.post(url(program), form_data(**{"incentives-upfront_per_kw": "175.00"}))
    latest = program.changes.first()
    assert (latest.part, latest.actor_label) == ("incentives", pm.get_username())
    assert (latest.before, latest.after) == (
        {"upfront_per_kw": "150.00"},
        {"upfront_per_kw": "175.00"},
    )
    page = client.get(url(program)).content.decode()
    assert "upfront per kw: 150.00 → 175.00" in page

    count = ProgramChange.objects.count()
    client.post(url(program), form_data(**{"incentives-upfront_per_kw": "175.00"}))
    assert ProgramChange.objects.count() == count  # nothing changed: nothing recorded


def test_a_wrong_value_is_refused_and_changes_nothing(client, program):
    client.force_login(factories.member(program.utility, Role.PROGRAM_MANAGER))
    client.post(url(program), form_data())
    count = ProgramChange.objects.count()
    response = client.post(
        url(program),
        form_data(**{"incentives-upfront_per_kw": "-5", "payment-kwh_rate": "0.30"}),
    )
    assert response.status_code == 400
    assert IncentiveRates.objects.get(program=program).upfront_per_kw == Decimal("150.00")
    assert SettlementRules.objects.get(program=program).kwh_rate == Decimal("0.25")
    assert ProgramChange.objects.count() == count


def test_an_analyst_reads_but_cannot_change(client, program):
    client.force_login(factories.member(program.utility, Role.ANALYST))
    page = client.get(url(program)).content.decode()
    assert "disabled" in page and "Save incentives" not in page
    assert client.post(url(program), form_data()).status_code == 403
    assert not IncentiveRates.objects.filter(program=program).exists()


def test_another_utilitys_program_is_not_found(client, program):
    client.force_login(factories.member(factories.utility(), Role.PROGRAM_MANAGER))
    assert client.get(url(program)).status_code == 404
    assert client.post(url(program), form_data()).status_code == 404
    assert not IncentiveRates.objects.filter(program=program).exists()


def test_editing_the_program_rules_keeps_what_changed(client, program):
    client.force_login(factories.member(program.utility, Role.PROGRAM_MANAGER))
    form = client.get(reverse("programs:program-update", args=[program.pk])).context["form"]
    data = {}
    for name in form.fields:
        value = form[name].value()
        if value is not None:
            data[name] = value
    data["reserve_soc_pct"] = 35
    response = client.post(reverse("programs:program-update", args=[program.pk]), data)
    assert response.status_code == 302, response.context["form"].errors
    change = program.changes.get(part="rules")
    assert (change.before, change.after) == ({"reserve_soc_pct": 20}, {"reserve_soc_pct": 35})
