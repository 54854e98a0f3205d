"""A dispatch group's DefaultDERControl in the portal: a program manager sees, sets (human
units in, the standard's stored) and clears it; other roles and other utilities cannot."""

from decimal import Decimal

import pytest
from django.urls import reverse

from programs.choices import CurveType, RequirementProfile
from programs.models import DefaultControl
from tenancy.choices import Role
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def utility(db):
    return factories.utility("Cascadia", slug="cascadia", timezone="America/Los_Angeles")


@pytest.fixture
def web(client, utility):
    client.force_login(factories.member(utility, Role.PROGRAM_MANAGER))
    return client


def _group(utility, profile=RequirementProfile.CSIP):
    return factories.dispatch_group(utility, prog=factories.program(utility, profile=profile))


def _url(group, clear=False):
    name = "programs:group-default-control-clear" if clear else "programs:group-default-control"
    return reverse(name, args=[group.pk])


def test_a_manager_sets_the_default_in_human_units_and_clears_it(web, utility):
    group = _group(utility, RequirementProfile.CSIP_AUS)
    curve = factories.curve(utility, program=group.program, curve_type=CurveType.VOLT_VAR)
    page = web.get(_url(group)).content.decode()
    assert "No default control" in page and 'for="id_op_mod_exp_lim_kw"' in page
    response = web.post(
        _url(group),
        {
            "op_mod_connect": "1",
            "op_mod_max_lim_w": "75",
            "op_mod_exp_lim_kw": "5",
            "op_mod_volt_var": curve.pk,
            "ramp_s": "10",
            "set_es_delay_s": "300",
            "set_es_high_freq_hz": "60.1",
            "set_es_low_volt_pct": "91.7",
            "set_grad_w_pct": "0.33",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    default = DefaultControl.objects.get(group=group)
    assert default.op_mod_connect is True and default.op_mod_max_lim_w == 7500
    assert default.op_mod_exp_lim_w == 5000 and default.op_mod_volt_var == curve
    assert default.ramp_tms == 1000 and default.set_es_delay == 30000
    assert default.set_es_high_freq == 6010 and default.set_es_low_volt == 9170
    assert default.set_grad_w == 33
    page = web.get(_url(group)).content.decode()
    assert "75 % of max W" in page and "5 kW" in page and "60.1 Hz" in page
    form = web.get(_url(group)).context["form"]
    assert form.initial["op_mod_max_lim_w"] == Decimal("75")
    assert form.initial["op_mod_connect"] == "1"
    # Setting replaces: what the new form leaves blank is cleared.
    assert web.post(_url(group), {"op_mod_max_lim_w": "50"}).status_code == 302
    default.refresh_from_db()
    assert default.op_mod_max_lim_w == 5000 and default.op_mod_exp_lim_w is None
    assert default.set_es_delay is None
    assert web.post(_url(group, clear=True)).status_code == 302
    assert not DefaultControl.objects.filter(group=group).exists()


def test_a_us_program_is_not_offered_the_csip_aus_site_limits(web, utility):
    group = _group(utility, RequirementProfile.CSIP)
    page = web.get(_url(group)).content.decode()
    assert 'for="id_op_mod_imp_lim_kw"' not in page
    assert 'for="id_op_mod_max_lim_w"' in page and 'for="id_set_soft_grad_w_pct"' in page
    web.post(_url(group), {"op_mod_imp_lim_kw": "3"})
    assert not DefaultControl.objects.exists()


@pytest.mark.parametrize(
    ("fields", "error_on"),
    [
        ({"op_mod_max_lim_w": "150"}, "op_mod_max_lim_w"),
        ({"op_mod_fixed_pf_inject_w": "2"}, "op_mod_fixed_pf_inject_w"),
        ({"set_es_high_freq_hz": "-1"}, "set_es_high_freq_hz"),
        ({}, "__all__"),
    ],
)
def test_a_wrong_value_shows_on_its_field_and_changes_nothing(web, utility, fields, error_on):
    group = _group(utility)
    factories.default_control(utility, group=group, op_mod_max_lim_w=5000)
    response = web.post(_url(group), fields)
    assert response.status_code == 400
    assert error_on in response.context["form"].errors
    assert DefaultControl.objects.get(group=group).op_mod_max_lim_w == 5000


def test_a_curve_of_another_type_is_refused_on_its_field(web, utility):
    group = _group(utility)
    volt_watt = factories.curve(utility, program=group.program, curve_type=CurveType.VOLT_WATT)
    response = web.post(_url(group), {"op_mod_volt_var": volt_watt.pk})
    assert "op_mod_volt_var" in response.context["form"].errors
    assert not DefaultControl.objects.exists()


def test_only_a_manager_of_the_groups_utility_reaches_it(client, utility):
    group = _group(utility)
    client.force_login(factories.member(utility, Role.OPERATOR))
    assert client.get(_url(group)).status_code == 403
    assert client.post(_url(group), {"op_mod_max_lim_w": "50"}).status_code == 403
    assert client.post(_url(group, clear=True)).status_code == 403
    other = factories.utility("Other", slug="other")
    client.force_login(factories.member(other, Role.PROGRAM_MANAGER))
    assert client.get(_url(group)).status_code == 404
    assert client.post(_url(group), {"op_mod_max_lim_w": "50"}).status_code == 404
    assert client.post(_url(group, clear=True)).status_code == 404
    assert not DefaultControl.objects.exists()


def test_the_group_and_program_pages_link_it_for_managers(web, utility):
    group = _group(utility)
    url = _url(group)
    assert url in web.get(reverse("programs:group-update", args=[group.pk])).content.decode()
    page = web.get(reverse("programs:program-detail", args=[group.program.pk])).content.decode()
    assert url in page
