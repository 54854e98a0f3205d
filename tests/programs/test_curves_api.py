"""/api/v1/curves/: a program's DERCurves, created, changed and deleted through the same
checks as the portal, within the caller's utility and role."""

import pytest

from programs.models import Curve
from tenancy.choices import Role
from tests import factories
from tests.conftest import api_client_for

pytestmark = pytest.mark.django_db

VOLT_VAR = [{"x": 92, "y": 44}, {"x": 98, "y": 0}, {"x": 102, "y": 0}, {"x": 108, "y": -44}]


@pytest.fixture
def api(manager):
    return api_client_for(manager)


def body(program, **fields):
    return {
        "program": program.pk,
        "description": "1547 cat B",
        "curve_type": 11,
        "points": VOLT_VAR,
        "y_ref_type": 2,
        **fields,
    }


def test_a_manager_creates_reads_changes_and_deletes_a_curve(api, program):
    created = api.post("/api/v1/curves/", body(program, v_ref=10000), format="json")
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["points"] == VOLT_VAR and len(data["mrid"]) == 32
    curve = Curve.objects.get(pk=data["id"])
    assert curve.utility_id == program.utility_id and curve.v_ref == 10000

    url = f"/api/v1/curves/{curve.pk}/"
    assert api.get(url).json()["description"] == "1547 cat B"
    changed = api.patch(url, {"points": VOLT_VAR[1:], "x_multiplier": -1}, format="json")
    assert changed.status_code == 200, changed.content
    curve.refresh_from_db()
    assert (curve.points, curve.x_multiplier) == (VOLT_VAR[1:], -1)

    assert api.delete(url).status_code == 204
    assert not Curve.objects.filter(pk=curve.pk).exists()


def test_the_list_filters_by_program_and_stays_in_the_utility(api, utility, program):
    mine = factories.curve(utility, program=program)
    other_program = factories.curve(utility, "other")
    foreign = factories.curve(factories.utility())
    ids = {c["id"] for c in api.get("/api/v1/curves/").json()["results"]}
    assert ids == {mine.pk, other_program.pk}
    ids = {c["id"] for c in api.get(f"/api/v1/curves/?program={program.pk}").json()["results"]}
    assert ids == {mine.pk}
    # Not an id: refused as the schema's `integer` says, never silently an empty list.
    assert api.get("/api/v1/curves/?program=abc").status_code == 400
    for method in ("get", "patch", "delete"):
        response = getattr(api, method)(f"/api/v1/curves/{foreign.pk}/", {}, format="json")
        assert response.status_code == 404, method
    assert Curve.objects.filter(pk=foreign.pk).exists()
    # Another utility's program is an unknown reference.
    response = api.post("/api/v1/curves/", body(foreign.program), format="json")
    assert response.status_code == 400 and "program" in response.json()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"points": []}, "points"),
        ({"points": [{"x": i, "y": 0} for i in range(11)]}, "points"),
        ({"points": [{"x": 5, "y": 0}, {"x": 4, "y": 0}]}, "points"),
        ({"points": [{"x": 2**31, "y": 0}]}, "points"),
        ({"points": [{"x": 1.5, "y": 0}]}, "points"),
        ({"y_ref_type": 4}, "y_ref_type"),
        ({"curve_type": 12, "v_ref": 10000, "y_ref_type": 1}, "v_ref"),
        ({"x_multiplier": 10}, "x_multiplier"),
        ({"curve_type": 99}, "curve_type"),
    ],
)
def test_bad_curves_are_refused_with_the_field_and_nothing_changes(api, program, fields, field):
    response = api.post("/api/v1/curves/", body(program, **fields), format="json")
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert not Curve.objects.exists()


def test_a_linked_curve_keeps_its_type_and_is_not_deleted(api, utility, program):
    group = factories.dispatch_group(utility, prog=program)
    curve = factories.curve(utility, program=program)
    factories.default_control(utility, group=group, op_mod_volt_var=curve)
    url = f"/api/v1/curves/{curve.pk}/"
    response = api.patch(url, {"curve_type": 14}, format="json")
    assert response.status_code == 400
    assert "linked by the default control of" in response.json()["curve_type"][0]
    response = api.delete(url)
    assert response.status_code == 409
    assert "cannot be deleted" in response.json()["detail"]
    curve.refresh_from_db()
    assert curve.curve_type == 11


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.ANALYST])
def test_only_program_managers_write(utility, program, role):
    api = api_client_for(factories.member(utility, role))
    curve = factories.curve(utility, program=program)
    assert api.get(f"/api/v1/curves/{curve.pk}/").status_code == 200
    assert api.post("/api/v1/curves/", body(program), format="json").status_code == 403
    assert api.patch(f"/api/v1/curves/{curve.pk}/", {"points": VOLT_VAR[:1]}).status_code == 403
    assert api.delete(f"/api/v1/curves/{curve.pk}/").status_code == 403
    curve.refresh_from_db()
    assert curve.points == VOLT_VAR


def test_the_schema_describes_the_curves(api):
    schema = api.get("/api/v1/schema/?format=json").json()
    paths = schema["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/curves/"])
    assert {"204", "403", "404", "409"} <= set(paths["/api/v1/curves/{id}/"]["delete"]["responses"])
    assert {"201", "400", "403"} <= set(paths["/api/v1/curves/"]["post"]["responses"])
    names = [p["name"] for p in paths["/api/v1/curves/"]["get"]["parameters"]]
    assert "program" in names
    point = schema["components"]["schemas"]["CurvePoint"]
    assert point["required"] == ["x", "y"]
    assert point["properties"]["x"]["maximum"] == 2**31 - 1
    curve = schema["components"]["schemas"]["Curve"]
    assert curve["properties"]["points"]["maxItems"] == 10
