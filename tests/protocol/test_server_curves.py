"""DERCurves under each DERProgram: /edev/{eid}/derp/{gid}/dc (the program's curves, paged)
and /dc/{id}; schema-valid (the test client validates every body), per-device mRIDs, only
the program's own curves, constant queries, and never a stale cached copy."""

import pytest

from programs.models import Curve
from programs.services import curve_save
from protocol.managers.edev import derived_mrid
from protocol.xml import parse
from protocol.xml.resources.derp import DERCurve, DERCurveList
from tests import factories
from tests.protocol.sep_world import actor, enrolled_end_device, program_with_group

pytestmark = pytest.mark.django_db


def world(utility, curves: int = 2):
    program, group = program_with_group(utility)
    agg = actor(utility, program=program)
    end_device = enrolled_end_device(utility, client=agg.client, program=program)
    made = [factories.curve(utility, program=program, description=f"VV {i}") for i in range(curves)]
    return program, group, agg, end_device, made


def test_the_list_holds_the_programs_curves_newest_first_and_pages(utility_a):
    _program, group, agg, end_device, (first, second) = world(utility_a)
    factories.curve(utility_a, description="another program's")  # same utility
    base = f"/edev/{end_device.pk}/derp/{group.pk}/dc"

    response = agg.http.get(f"{base}?l=10")
    assert response.status_code == 200
    listing = parse(response.content, DERCurveList)
    assert (listing.all, listing.results) == (2, 2)
    assert listing.href == base
    assert [c.description for c in listing.der_curves] == ["VV 1", "VV 0"]
    assert [c.href for c in listing.der_curves] == [f"{base}/{second.pk}", f"{base}/{first.pk}"]

    paged = parse(agg.http.get(f"{base}?s=1&l=1").content, DERCurveList)
    assert (paged.all, paged.results) == (2, 1)
    assert paged.der_curves[0].description == "VV 0"


def test_a_curve_is_served_with_its_points_multipliers_and_reference(utility_a):
    program, group, agg, end_device, (curve, _) = world(utility_a)
    curve.points = [{"x": 9200, "y": 4400}, {"x": 10800, "y": -4400, "excitation": True}]
    curve.x_multiplier = curve.y_multiplier = -2
    curve.open_loop_tms = 500
    curve.v_ref = 10000
    curve_save(curve=curve)
    href = f"/edev/{end_device.pk}/derp/{group.pk}/dc/{curve.pk}"

    served = parse(agg.http.get(href).content, DERCurve)
    assert served.href == href
    assert served.curve_type == 11
    assert [(p.xvalue, p.yvalue, p.excitation) for p in served.curve_data] == [
        (9200, 4400, None),
        (10800, -4400, True),
    ]
    assert (served.x_multiplier, served.y_multiplier, served.y_ref_type) == (-2, -2, 2)
    assert (served.open_loop_tms, served.v_ref) == (500, 10000)
    assert served.mrid == derived_mrid("dc", curve.mrid, end_device.lfdi)
    # Each EndDevice has its own copy, with its own mRID, stable across polls.
    other = enrolled_end_device(utility_a, client=agg.client, program=program)
    theirs = parse(
        agg.http.get(f"/edev/{other.pk}/derp/{group.pk}/dc/{curve.pk}").content, DERCurve
    )
    assert theirs.mrid != served.mrid
    assert parse(agg.http.get(href).content, DERCurve).mrid == served.mrid


def test_curves_outside_the_devices_programs_are_not_found(utility_a, utility_b):
    _program, group, agg, end_device, (curve, _) = world(utility_a)
    stranger = factories.curve(utility_a, description="another program's")
    other_group = factories.dispatch_group(utility_a, prog=stranger.program)
    b_program, b_group = program_with_group(utility_b)
    b_curve = factories.curve(utility_b, program=b_program)
    base = f"/edev/{end_device.pk}/derp"
    assert agg.http.get(f"{base}/{group.pk}/dc/{curve.pk}").status_code == 200
    for path in (
        f"{base}/{group.pk}/dc/{stranger.pk}",  # another program of the utility
        f"{base}/{group.pk}/dc/{b_curve.pk}",  # another utility's
        f"{base}/{group.pk}/dc/999999999",
        f"{base}/{other_group.pk}/dc",  # a group the device is not in
        f"{base}/{other_group.pk}/dc/{stranger.pk}",
        f"{base}/{b_group.pk}/dc/{b_curve.pk}",
    ):
        assert agg.http.get(path).status_code == 404, path
    # Another client (of another utility) cannot read this device's curves at all.
    b_agg = actor(utility_b, program=b_program)
    assert b_agg.http.get(f"{base}/{group.pk}/dc").status_code == 404
    assert b_agg.http.get(f"{base}/{group.pk}/dc/{curve.pk}").status_code == 404


def test_an_empty_list_is_valid(utility_a):
    _, group, agg, end_device, _ = world(utility_a, curves=0)
    listing = parse(agg.http.get(f"/edev/{end_device.pk}/derp/{group.pk}/dc").content, DERCurveList)
    assert (listing.all, listing.results, listing.der_curves) == (0, 0, [])


def test_query_counts_do_not_grow_with_the_curves(utility_a, django_assert_max_num_queries):
    _, group, agg, end_device, curves = world(utility_a, curves=10)
    base = f"/edev/{end_device.pk}/derp/{group.pk}/dc"
    agg.http.get(f"/edev/{end_device.pk}")  # first contact writes last_seen_at once
    # EndDevice, its groups, then count and page (the list) or the curve (one).
    with django_assert_max_num_queries(4):
        assert agg.http.get(f"{base}?l=10").status_code == 200
    with django_assert_max_num_queries(3):
        assert agg.http.get(f"{base}/{curves[3].pk}").status_code == 200


def test_a_changed_curve_is_never_served_stale(utility_a):
    _, group, agg, end_device, (curve, _) = world(utility_a)
    href = f"/edev/{end_device.pk}/derp/{group.pk}/dc/{curve.pk}"
    listing = f"/edev/{end_device.pk}/derp/{group.pk}/dc"
    assert parse(agg.http.get(href).content, DERCurve).curve_data[0].yvalue == 44
    agg.http.get(f"{listing}?l=10")
    curve.points = [{"x": 90, "y": 30}, {"x": 110, "y": -30}]
    curve_save(curve=curve)
    assert parse(agg.http.get(href).content, DERCurve).curve_data[0].yvalue == 30
    Curve.objects.filter(pk=curve.pk).delete()
    assert agg.http.get(href).status_code == 404
    assert parse(agg.http.get(f"{listing}?l=10").content, DERCurveList).all == 1
