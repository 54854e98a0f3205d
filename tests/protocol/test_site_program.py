"""The CSIP-AUS site program: a program that publishes site envelopes has, in each FSA it
gives an EndDevice whose ConnectionPoint is known, one more DERProgram (of the program's
site_envelope_primacy) whose DERControlList lists exactly that NMI's envelopes. Every body
is schema-checked by the test client (CSIP-AUS 1.2)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from devices.models import Device
from programs.models import SiteEnvelope
from programs.services import site_envelope_cancel, site_envelopes_publish
from protocol.managers.edev import derived_mrid
from protocol.models import NotificationDelivery, Subscription
from protocol.xml import parse
from protocol.xml.resources.derp import DERControl, DERControlList, DERProgram, DERProgramList
from protocol.xml.resources.edev import FunctionSetAssignments
from tests import factories
from tests.protocol.client import SepClient
from tests.protocol.sep_world import actor, enrolled_end_device, program_with_group

pytestmark = pytest.mark.django_db

NMI = "4102000001"
OTHER_NMI = "4102000002"


def world(utility, *, nmi: str = NMI, site_primacy: int | None = 1, profile="csip_aus"):
    program, group = program_with_group(
        utility, profile=profile, primacy=10, site_envelope_primacy=site_primacy
    )
    agg = actor(utility, program=program)
    agg.http = SepClient(agg.cert, profile="csipaus" if profile == "csip_aus" else "csip")
    end_device = enrolled_end_device(utility, client=agg.client, program=program)
    site_at(end_device, nmi)
    return program, group, agg, end_device


def site_at(end_device, nmi: str) -> None:
    """The site's ConnectionPoint, as its client PUT it."""
    Device.objects.filter(pk=end_device.device_id).update(connection_point_id=nmi)
    end_device.refresh_from_db()


def publish(program, *rows, now=None):
    site_envelopes_publish(program=program, rows=list(rows), now=now)


def envelope(start, nmi: str = NMI, **limits) -> dict:
    return {
        "connection_point_id": nmi,
        "start": start,
        "duration_s": 1800,
        **(limits or {"op_mod_exp_lim_w": 1000}),
    }


def get(agg, href, cls):
    response = agg.http.get(href)
    assert response.status_code == 200, (href, response.content)
    return parse(response.content, cls, profile="csipaus")


def test_the_fsa_lists_the_site_program_by_primacy(utility_a):
    program, group, agg, end_device = world(utility_a)
    fsa_href = f"/edev/{end_device.pk}/fsa/{program.pk}"
    fsa = get(agg, fsa_href, FunctionSetAssignments)
    assert fsa.der_program_list_link.all == 2
    listing = get(agg, f"{fsa_href}/derp?l=10", DERProgramList)  # 2030.5's default limit is 1
    site_href = f"/edev/{end_device.pk}/derp/site/{program.pk}"
    assert [(p.href, p.primacy) for p in listing.der_programs] == [
        (site_href, 1),
        (f"/edev/{end_device.pk}/derp/{group.pk}", 10),
    ]
    site = listing.der_programs[0]
    assert site.mrid == derived_mrid("site-derp", str(program.pk), end_device.lfdi)
    assert site.mrid.endswith(listing.der_programs[1].mrid[-8:])  # the PEN, as every mRID
    assert site.default_der_control_link is None and site.der_curve_list_link is None
    assert site.der_control_list_link.href == f"{site_href}/derc"
    # The device's list of all its programs says the same, and the program reads alone.
    everything = get(agg, f"/edev/{end_device.pk}/derp?l=10", DERProgramList)
    assert [p.href for p in everything.der_programs] == [p.href for p in listing.der_programs]
    assert get(agg, site_href, DERProgram).primacy == 1


@pytest.mark.parametrize(
    "setup",
    ["no site primacy", "no connection point", "us csip"],
)
def test_no_site_program_without_envelopes_an_nmi_or_csip_aus(utility_a, setup):
    program, _, agg, end_device = world(
        utility_a,
        site_primacy=None if setup == "no site primacy" else 1,
        nmi="" if setup == "no connection point" else NMI,
        profile="csip" if setup == "us csip" else "csip_aus",
    )
    response = agg.http.get(f"/edev/{end_device.pk}/fsa/{program.pk}/derp?l=10")
    listing = parse(response.content, DERProgramList)
    assert len(listing.der_programs) == 1
    assert agg.http.get(f"/edev/{end_device.pk}/derp/site/{program.pk}").status_code == 404
    assert agg.http.get(f"/edev/{end_device.pk}/derp/site/{program.pk}/derc").status_code == 404


def test_the_list_holds_exactly_this_nmis_envelopes_in_order(utility_a):
    program, _, agg, end_device = world(utility_a)
    now = timezone.now()
    past = now - timedelta(hours=2)  # ended: gone at once
    publish(
        program,
        envelope(past),
        envelope(now - timedelta(minutes=10), op_mod_imp_lim_w=3000, op_mod_exp_lim_w=1500),
        envelope(now + timedelta(hours=1), op_mod_gen_lim_w=4000, op_mod_load_lim_w=2000),
        envelope(now + timedelta(hours=3)),
        envelope(now - timedelta(minutes=10), nmi=OTHER_NMI),
    )
    factories.site_envelope(utility_a)  # another program's, at the same NMI
    cancelled = factories.site_envelope(
        utility_a, program=program, start=now + timedelta(hours=2), op_mod_exp_lim_w=10
    )
    site_envelope_cancel(envelope=cancelled)
    href = f"/edev/{end_device.pk}/derp/site/{program.pk}/derc"
    listing = get(agg, f"{href}?l=10", DERControlList)
    assert (listing.all, listing.results) == (4, 4)
    starts = [c.interval.start for c in listing.der_controls]
    assert starts == sorted(starts)
    statuses = [c.event_status.current_status for c in listing.der_controls]
    assert statuses == [1, 0, 2, 0]
    first, second = listing.der_controls[:2]
    assert (
        first.der_control_base.op_mod_imp_lim_w.value,
        first.der_control_base.op_mod_exp_lim_w.value,
    ) == (3000, 1500)
    assert second.der_control_base.op_mod_gen_lim_w.value == 4000
    assert second.der_control_base.op_mod_load_lim_w.value == 2000
    assert second.der_control_base.op_mod_exp_lim_w is None
    assert first.response_required == 0 and first.reply_to is None
    # Paging, the active list, and one control by its href.
    page = get(agg, f"{href}?s=1&l=2", DERControlList)
    assert [c.mrid for c in page.der_controls] == [c.mrid for c in listing.der_controls[1:3]]
    active = get(agg, f"/edev/{end_device.pk}/derp/site/{program.pk}/actderc", DERControlList)
    assert [c.mrid for c in active.der_controls] == [first.mrid]
    assert get(agg, first.href, DERControl).mrid == first.mrid
    assert agg.http.get(f"{href}/{'0' * 32}").status_code == 404


def test_a_site_sees_only_its_own_nmis_envelopes_and_no_other_utilitys(utility_a, utility_b):
    program, _, agg, end_device = world(utility_a)
    neighbour = enrolled_end_device(utility_a, client=agg.client, program=program)
    site_at(neighbour, OTHER_NMI)
    b_program, _, b_agg, _ = world(utility_b)
    publish(program, envelope(timezone.now()))
    mine = get(agg, f"/edev/{end_device.pk}/derp/site/{program.pk}/derc", DERControlList)
    theirs = get(agg, f"/edev/{neighbour.pk}/derp/site/{program.pk}/derc", DERControlList)
    assert (mine.all, theirs.all) == (1, 0)
    assert b_agg.http.get(f"/edev/{end_device.pk}/derp/site/{program.pk}/derc").status_code == 404
    assert agg.http.get(f"/edev/{end_device.pk}/derp/site/{b_program.pk}/derc").status_code == 404


def test_a_replaced_envelope_is_a_new_control(utility_a):
    program, _, agg, end_device = world(utility_a)
    start = timezone.now() + timedelta(hours=1)
    publish(program, envelope(start))
    href = f"/edev/{end_device.pk}/derp/site/{program.pk}/derc"
    before = get(agg, href, DERControlList).der_controls
    publish(program, envelope(start, op_mod_exp_lim_w=200))
    after = get(agg, href, DERControlList).der_controls
    assert len(after) == 1 and after[0].mrid != before[0].mrid
    assert after[0].der_control_base.op_mod_exp_lim_w.value == 200


def test_query_counts_do_not_grow_with_the_envelopes(utility_a, django_assert_max_num_queries):
    program, _, agg, end_device = world(utility_a)
    now = timezone.now()
    publish(program, *[envelope(now + timedelta(minutes=30 * i)) for i in range(20)])
    base = f"/edev/{end_device.pk}/derp/site/{program.pk}"
    agg.http.get(f"/edev/{end_device.pk}")  # first contact writes last_seen_at once
    # EndDevice, its groups, the envelopes.
    for path in (f"{base}/derc?l=20", f"{base}/actderc", f"{base}/derc?s=5&l=3"):
        with django_assert_max_num_queries(3):
            assert agg.http.get(path).status_code == 200
    # EndDevice and its groups: the site program costs the lists nothing.
    for path in (
        base,
        f"/edev/{end_device.pk}/fsa/{program.pk}/derp",
        f"/edev/{end_device.pk}/derp",
    ):
        with django_assert_max_num_queries(2):
            assert agg.http.get(path).status_code == 200


def test_publishing_and_cancelling_notify_the_sites_subscribers(
    utility_a, django_capture_on_commit_callbacks
):
    program, group, agg, end_device = world(utility_a, nmi=NMI + "0")  # with its checksum
    elsewhere = enrolled_end_device(utility_a, client=agg.client, program=program)
    site_at(elsewhere, OTHER_NMI)  # same program, another site
    derc = f"/edev/{end_device.pk}/derp/site/{program.pk}/derc"
    subscribed = {
        name: Subscription.objects.create(
            utility=utility_a,
            end_device=device,
            subscribed_resource=href,
            notification_uri="http://x/n",
        )
        for name, device, href in (
            ("derc", end_device, derc),
            ("group", end_device, f"/edev/{end_device.pk}/derp/{group.pk}/derc"),
            ("elsewhere", elsewhere, f"/edev/{elsewhere.pk}/derp/site/{program.pk}/derc"),
        )
    }
    with django_capture_on_commit_callbacks(execute=True):
        publish(program, envelope(timezone.now() + timedelta(hours=1)))
    owed = NotificationDelivery.objects.values_list("subscription_id", "resource")
    assert list(owed) == [(subscribed["derc"].pk, derc)]
    # The Notification is a change notice: the subscriber GETs the list.
    with django_capture_on_commit_callbacks(execute=True):
        site_envelope_cancel(envelope=SiteEnvelope.objects.get())
    assert NotificationDelivery.objects.filter(subscription=subscribed["derc"]).count() == 2
