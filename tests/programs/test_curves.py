"""A program's DERCurves: what a valid curve is, and what a control's link protects."""

import pytest
from django.core.exceptions import ValidationError
from django.db.models import ProtectedError

from programs.choices import CurveType, UnitRefType
from programs.models import Curve, curve_points_refusal
from programs.services import curve_delete, curve_save
from tests import factories

pytestmark = pytest.mark.django_db

VOLT_VAR = [{"x": 92, "y": 44}, {"x": 98, "y": 0}, {"x": 102, "y": 0}, {"x": 108, "y": -44}]


@pytest.mark.parametrize(
    ("points", "says"),
    [
        ([], "at least one point"),
        ("92,44", "at least one point"),
        ([{"x": i, "y": 0} for i in range(11)], "at most 10"),
        ([{"x": 1}], "needs an x and a y"),
        ([{"x": 1, "y": 2, "z": 3}], "unknown keys: z"),
        ([{"x": 1.5, "y": 2}], "whole number"),
        ([{"x": True, "y": 2}], "whole number"),
        ([{"x": "1", "y": 2}], "whole number"),
        ([{"x": 1, "y": 2**31}], "32-bit"),
        ([{"x": -(2**31) - 1, "y": 0}], "32-bit"),
        ([{"x": 1, "y": 0, "excitation": "yes"}], "true or false"),
        ([{"x": 1, "y": 0}, {"x": 1, "y": 5}], "point 2 (1) is not above 1"),
        ([{"x": 5, "y": 0}, {"x": 6, "y": 0}, {"x": 4, "y": 0}], "point 3"),
    ],
)
def test_bad_points_are_refused_in_words(points, says):
    refusal = curve_points_refusal(points)
    assert refusal is not None and says in refusal


def test_good_points_pass_at_the_edges():
    assert curve_points_refusal(VOLT_VAR) is None
    assert curve_points_refusal([{"x": -(2**31), "y": 2**31 - 1, "excitation": False}]) is None
    assert curve_points_refusal([{"x": i, "y": 0} for i in range(10)]) is None


def test_curve_save_validates_and_changes_nothing_when_refused():
    utility = factories.utility()
    program = factories.program(utility)
    curve = Curve(program=program, curve_type=CurveType.VOLT_VAR, points=VOLT_VAR, y_ref_type=2)
    curve_save(curve=curve)
    assert curve.utility_id == utility.pk and curve.pk

    curve.points = [{"x": 5, "y": 0}, {"x": 5, "y": 1}]
    with pytest.raises(ValidationError) as refused:
        curve_save(curve=curve)
    assert "points" in refused.value.message_dict
    curve.refresh_from_db()
    assert curve.points == VOLT_VAR


@pytest.mark.parametrize(
    ("curve_type", "good", "bad"),
    [
        (CurveType.VOLT_VAR, UnitRefType.SET_MAX_VAR, UnitRefType.SET_EFFECTIVE_V),
        (CurveType.VOLT_WATT, UnitRefType.SET_MAX_W, UnitRefType.SET_MAX_VAR),
        (CurveType.FREQ_WATT, UnitRefType.STAT_W_AVAIL, UnitRefType.NA),
        (CurveType.WATT_PF, UnitRefType.NA, UnitRefType.SET_MAX_W),
        (CurveType.LVRT_MUST_TRIP, UnitRefType.SET_EFFECTIVE_V, UnitRefType.SET_MAX_W),
        (CurveType.HFRT_MAY_TRIP, UnitRefType.NA, UnitRefType.SET_EFFECTIVE_V),
    ],
)
def test_the_y_reference_must_mean_something_for_the_type(curve_type, good, bad):
    utility = factories.utility()
    program = factories.program(utility)
    ok = Curve(program=program, curve_type=curve_type, points=VOLT_VAR, y_ref_type=good)
    curve_save(curve=ok)
    wrong = Curve(program=program, curve_type=curve_type, points=VOLT_VAR, y_ref_type=bad)
    with pytest.raises(ValidationError) as refused:
        curve_save(curve=wrong)
    assert (
        f"{CurveType(curve_type).label.lower()} curve's y is"
        in (refused.value.message_dict["y_ref_type"][0])
    )
    assert wrong.pk is None


def test_only_a_volt_var_curve_has_a_voltage_reference():
    utility = factories.utility()
    curve = factories.curve(utility, curve_type=CurveType.VOLT_WATT, y_ref_type=1, v_ref=10000)
    with pytest.raises(ValidationError) as refused:
        curve_save(curve=curve)
    assert "volt-var" in refused.value.message_dict["v_ref"][0]


def test_a_linked_curve_keeps_its_type_and_program_and_cannot_be_deleted():
    utility = factories.utility()
    group = factories.dispatch_group(utility)
    curve = factories.curve(utility, program=group.program)
    event = factories.event(
        utility, group=group, kind="volt_var", target_w=None, op_mod_volt_var=curve
    )

    curve.curve_type = CurveType.WATT_VAR
    with pytest.raises(ValidationError) as refused:
        curve_save(curve=curve)
    assert f"linked by event {event}" in refused.value.message_dict["curve_type"][0]
    curve.curve_type = CurveType.VOLT_VAR
    curve.program = factories.program(utility, "other")
    with pytest.raises(ValidationError) as refused:
        curve_save(curve=curve)
    assert "program" in refused.value.message_dict
    curve.refresh_from_db()
    # Its points may still change (the next poll serves them).
    curve.points = VOLT_VAR[:2]
    curve_save(curve=curve)

    with pytest.raises(ValidationError) as refused:
        curve_delete(curve=curve)
    assert "cannot be deleted" in refused.value.messages[0]
    assert f"event {event}" in refused.value.messages[0]
    assert Curve.objects.filter(pk=curve.pk).exists()
    # The database refuses too, whatever path a delete takes.
    with pytest.raises(ProtectedError):
        Curve.objects.filter(pk=curve.pk).delete()


def test_a_default_controls_link_protects_the_curve_until_it_points_elsewhere():
    utility = factories.utility()
    group = factories.dispatch_group(utility)
    curve = factories.curve(utility, program=group.program)
    default = factories.default_control(utility, group=group, op_mod_volt_var=curve)
    with pytest.raises(ValidationError) as refused:
        curve_delete(curve=curve)
    assert f"the default control of {group.name}" in refused.value.messages[0]
    default.op_mod_volt_var = None
    default.save()
    curve_delete(curve=curve)
    assert not Curve.objects.filter(pk=curve.pk).exists()


def test_an_unlinked_curve_may_change_type():
    utility = factories.utility()
    curve = factories.curve(utility)
    curve.curve_type = CurveType.WATT_VAR
    curve_save(curve=curve)
    curve.refresh_from_db()
    assert curve.curve_type == CurveType.WATT_VAR
