"""Several FunctionSetAssignments per EndDevice (issue 22 item 4, S-ALL-49): one per program
the device's dispatch groups belong to, in primacy order, each leading to a DERProgramList of
that program's groups only; paged the 2030.5 way; PEN mRIDs; constant queries."""

import itertools

import pytest

from programs.services import group_member_add, participant_add
from protocol.managers.derp import der_program_mrid
from protocol.xml import parse
from protocol.xml.resources.derp import DERProgramList
from protocol.xml.resources.edev import FunctionSetAssignments, FunctionSetAssignmentsList
from tests import factories
from tests.protocol.sep_world import actor, enrolled_end_device, program_with_group

pytestmark = pytest.mark.django_db


@pytest.fixture
def site(utility_a):
    """A site in a device-level VPP program (two groups) and a site-level envelope program."""
    envelope, envelope_group = program_with_group(utility_a, primacy=2, name="Envelope")
    vpp, vpp_group = program_with_group(utility_a, primacy=1, name="VPP")
    vpp_group2 = factories.dispatch_group(utility_a, prog=vpp)
    agg = actor(utility_a, program=vpp)
    ed = enrolled_end_device(utility_a, client=agg.client, program=vpp)
    participant_add(program=envelope, device=ed.device)
    group_member_add(group=vpp_group2, device=ed.device)
    return agg, ed, (vpp, [vpp_group, vpp_group2]), (envelope, [envelope_group])


def test_one_fsa_per_program_each_listing_its_own_groups(site):
    # Failed before: one FSA (all=1) listing every group of every program.
    agg, ed, (vpp, vpp_groups), (envelope, envelope_groups) = site
    listing = parse(agg.http.get(f"/edev/{ed.pk}/fsa?l=10").content, FunctionSetAssignmentsList)
    assert (listing.all, listing.results) == (2, 2)
    first, second = listing.function_set_assignments
    assert [first.href, second.href] == [
        f"/edev/{ed.pk}/fsa/{vpp.pk}",
        f"/edev/{ed.pk}/fsa/{envelope.pk}",
    ]
    assert first.mrid != second.mrid and all(len(f.mrid) == 32 for f in (first, second))
    assert (first.der_program_list_link.all, second.der_program_list_link.all) == (2, 1)
    for fsa, (program, groups) in (
        (first, (vpp, vpp_groups)),
        (second, (envelope, envelope_groups)),
    ):
        assert parse(agg.http.get(fsa.href).content, FunctionSetAssignments) == fsa
        derps = parse(
            agg.http.get(f"{fsa.der_program_list_link.href}?l=10").content, DERProgramList
        )
        assert derps.href == fsa.der_program_list_link.href
        assert derps.all == len(groups)
        assert [d.mrid for d in derps.der_programs] == [der_program_mrid(ed, g) for g in groups]
        assert {d.primacy for d in derps.der_programs} == {program.primacy}
    # The DER's full list still has every program.
    assert parse(agg.http.get(f"/edev/{ed.pk}/derp?l=10").content, DERProgramList).all == 3


def test_fsa_list_and_program_lists_page(site):
    agg, ed, (vpp, _), (envelope, _) = site
    page = parse(agg.http.get(f"/edev/{ed.pk}/fsa?s=1&l=1").content, FunctionSetAssignmentsList)
    assert (page.all, page.results) == (2, 1)
    assert page.function_set_assignments[0].href.endswith(f"/fsa/{envelope.pk}")
    default = parse(agg.http.get(f"/edev/{ed.pk}/fsa").content, FunctionSetAssignmentsList)
    assert (default.all, default.results) == (2, 1)  # no `l`: one item
    derps = parse(agg.http.get(f"/edev/{ed.pk}/fsa/{vpp.pk}/derp?s=1&l=5").content, DERProgramList)
    assert (derps.all, derps.results) == (2, 1)


def test_a_program_the_device_is_not_in_is_not_found(site, utility_a):
    agg, ed, _, _ = site
    other, _ = program_with_group(utility_a)
    for path in (
        f"/edev/{ed.pk}/fsa/{other.pk}",
        f"/edev/{ed.pk}/fsa/{other.pk}/derp",
        f"/edev/{ed.pk}/fsa/0",
    ):
        assert agg.http.get(path).status_code == 404, path


def test_fsa_queries_do_not_grow_with_programs(utility_a, django_assert_max_num_queries):
    agg = actor(utility_a)
    program, _ = program_with_group(utility_a, primacy=1)
    ed = enrolled_end_device(utility_a, client=agg.client, program=program)

    calls = itertools.count()

    def count(path):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        agg.http.get(path)  # first contact and cache warm-up aside
        with CaptureQueriesContext(connection) as ctx:
            # A new query string each time: never answered from the response cache.
            assert agg.http.get(f"{path}?l=50&n={next(calls)}").status_code == 200
        return len(ctx)

    before = count(f"/edev/{ed.pk}/fsa")
    for primacy in range(2, 7):
        more, _ = program_with_group(utility_a, primacy=primacy)
        participant_add(program=more, device=ed.device)
    after = count(f"/edev/{ed.pk}/fsa")
    assert after == before
    with django_assert_max_num_queries(before):
        agg.http.get(f"/edev/{ed.pk}/fsa/{program.pk}/derp?l=50&x=1")
