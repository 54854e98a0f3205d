"""The portal's curve pages: listed on the program page, created and edited as "x, y"
lines with a chart, deleted unless linked; only program managers see and use the actions."""

import json
import re

import pytest
from django.urls import reverse

from programs.forms import CurvePointsField
from programs.models import Curve
from tenancy.choices import Role
from tests import factories

pytestmark = pytest.mark.django_db

FORM = {
    "description": "Cat B",
    "curve_type": "11",
    "y_ref_type": "2",
    "points": "92, 44\n98, 0\n\n102, 0\n108, -44\n",
    "x_multiplier": "0",
    "y_multiplier": "0",
    "autonomous_v_ref_enable": "unknown",
}


@pytest.fixture
def web(client, manager):
    client.force_login(manager)
    return client


def chart_of(response) -> dict:
    found = re.search(
        r'<script id="curve-chart-data"[^>]*>(.*?)</script>', response.content.decode()
    )
    assert found, "the page carries the chart's data"
    return json.loads(found.group(1))


def test_a_manager_creates_a_curve_and_sees_its_chart(web, program):
    page = web.get(reverse("programs:program-detail", args=[program.pk]))
    assert reverse("programs:curve-create", args=[program.pk]) in page.content.decode()

    response = web.post(reverse("programs:curve-create", args=[program.pk]), FORM)
    curve = Curve.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("programs:curve-update", args=[curve.pk])
    assert curve.points == [
        {"x": 92, "y": 44},
        {"x": 98, "y": 0},
        {"x": 102, "y": 0},
        {"x": 108, "y": -44},
    ]
    assert (curve.program, curve.utility) == (program, program.utility)

    shown = web.get(response["Location"])
    chart = chart_of(shown)
    assert chart["points"] == [[92, 44], [98, 0], [102, 0], [108, -44]]
    assert chart["x_label"] == "Voltage, % of nominal"
    assert chart["y_label"] == "Reactive power, % of setMaxVar"
    html = shown.content.decode()
    assert "programs/curve_chart.js" in html
    assert not re.search(r"<script(?![^>]*(src=|application/json))", html), "no inline script"
    assert "Delete curve" in html
    listed = web.get(reverse("programs:program-detail", args=[program.pk])).content.decode()
    assert reverse("programs:curve-update", args=[curve.pk]) in listed


def test_the_chart_is_in_real_units(web, utility, program):
    curve = factories.curve(
        utility,
        program=program,
        points=[{"x": 9200, "y": 4400}, {"x": 10800, "y": -4400}],
        x_multiplier=-2,
        y_multiplier=-2,
    )
    chart = chart_of(web.get(reverse("programs:curve-update", args=[curve.pk])))
    assert chart["points"] == [[92.0, 44.0], [108.0, -44.0]]


@pytest.mark.parametrize(
    ("points", "says"),
    [
        ("92, 44\n90, 0", "x must increase"),
        ("92; 4.5", "whole numbers"),
        ("92", "two numbers"),
        ("92, 1, sideways", "absorb"),
        ("", "required"),
    ],
)
def test_bad_points_show_a_clear_error_and_save_nothing(web, program, points, says):
    response = web.post(
        reverse("programs:curve-create", args=[program.pk]), {**FORM, "points": points}
    )
    assert response.status_code == 200
    assert says in response.content.decode()
    assert not Curve.objects.exists()


def test_points_text_round_trips_with_excitation():
    field = CurvePointsField()
    points = field.clean("50, 90, absorb\n100\t100 , inject\n")
    assert points == [
        {"x": 50, "y": 90, "excitation": True},
        {"x": 100, "y": 100, "excitation": False},
    ]
    assert field.prepare_value(points) == "50, 90, absorb\n100, 100, inject"


def test_editing_and_deleting(web, utility, program):
    curve = factories.curve(utility, program=program)
    url = reverse("programs:curve-update", args=[curve.pk])
    response = web.post(url, {**FORM, "points": "90, 30\n110, -30"})
    assert response.status_code == 302
    curve.refresh_from_db()
    assert curve.points == [{"x": 90, "y": 30}, {"x": 110, "y": -30}]

    group = factories.dispatch_group(utility, prog=program)
    default = factories.default_control(utility, group=group, op_mod_volt_var=curve)
    page = web.get(url).content.decode()
    assert f"the default control of {group.name}" in page
    refused = web.post(url, {**FORM, "curve_type": "14"})
    assert refused.status_code == 200
    assert "linked by the default control" in refused.content.decode()
    response = web.post(reverse("programs:curve-delete", args=[curve.pk]), follow=True)
    assert "cannot be deleted" in response.content.decode()
    assert Curve.objects.filter(pk=curve.pk).exists()

    default.delete()
    response = web.post(reverse("programs:curve-delete", args=[curve.pk]))
    assert response["Location"] == reverse("programs:program-detail", args=[program.pk])
    assert not Curve.objects.filter(pk=curve.pk).exists()


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.ANALYST])
def test_other_roles_see_the_curve_but_no_actions(client, utility, program, role):
    client.force_login(factories.member(utility, role))
    curve = factories.curve(utility, program=program)
    detail = client.get(reverse("programs:program-detail", args=[program.pk])).content.decode()
    assert reverse("programs:curve-update", args=[curve.pk]) in detail
    assert reverse("programs:curve-create", args=[program.pk]) not in detail
    page = client.get(reverse("programs:curve-update", args=[curve.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Save curve" not in html and "Delete curve" not in html
    assert client.get(reverse("programs:curve-create", args=[program.pk])).status_code == 403
    for name, args in (
        ("programs:curve-create", [program.pk]),
        ("programs:curve-update", [curve.pk]),
        ("programs:curve-delete", [curve.pk]),
    ):
        assert client.post(reverse(name, args=args), FORM).status_code == 403
    curve.refresh_from_db()
    assert Curve.objects.count() == 1 and curve.points[0] == {"x": 92, "y": 44}


def test_another_utilitys_curve_and_program_are_not_found(web):
    other = factories.curve(factories.utility())
    assert web.get(reverse("programs:curve-update", args=[other.pk])).status_code == 404
    assert web.post(reverse("programs:curve-delete", args=[other.pk])).status_code == 404
    create = reverse("programs:curve-create", args=[other.program_id])
    assert web.get(create).status_code == 404
    assert web.post(create, FORM).status_code == 404
    assert Curve.objects.count() == 1
