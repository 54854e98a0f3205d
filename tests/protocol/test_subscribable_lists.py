"""Subscriptions to the resources this server marks subscribable (S-ALL-25): the
EndDeviceList, an EndDevice's FunctionSetAssignmentsList and DERProgramList, and a
DERProgram's DefaultDERControl are accepted, and a change to what they show (a poll rate,
a registration, a membership, a default control) is delivered to the subscriber carrying
the resource as the subscriber's client sees it now (schema-valid)."""

import pytest

from portal.celery import app as celery_app
from programs.services import participant_add
from protocol.xml import parse, serialize
from protocol.xml.resources.derp import DefaultDERControl, DERProgramList
from protocol.xml.resources.edev import EndDeviceList, FunctionSetAssignmentsList
from protocol.xml.resources.pubsub import Notification
from protocol.xml.resources.pubsub import Subscription as SepSubscription
from tests import factories
from tests.protocol.schema import assert_valid_sep
from tests.protocol.sep_world import (
    actor,
    end_device_body,
    enrolled_end_device,
    program_with_group,
    random_lfdi,
)
from tests.protocol.test_server_subscriptions import subscriber  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager_celery():
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture
def world(utility_a, subscriber, eager_celery):  # noqa: F811
    uri, received = subscriber
    program, group = program_with_group(utility_a)
    agg = actor(utility_a, program=program)
    ed = enrolled_end_device(utility_a, client=agg.client, program=program)
    return program, group, agg, ed, uri, received


def _subscribe(agg, ed, resource, uri):
    body = SepSubscription(
        subscribed_resource=resource, encoding=0, level="+S1", limit=100, notification_uri=uri
    )
    return agg.http.post_sep(f"/edev/{ed.pk}/sub", serialize(body))


def _notified(received, resource, cls):
    bodies = [b for _, b in received if f"<subscribedResource>{resource}<".encode() in b]
    assert bodies, f"no notification for {resource}"
    assert_valid_sep(bodies[-1], "csip")
    notification = parse(bodies[-1], Notification)
    assert isinstance(notification.resource, cls) and notification.status == 0
    return notification.resource


def test_the_end_device_list_is_subscribable_and_notified(
    world, django_capture_on_commit_callbacks
):
    # Failed before: 400 "subscribedResource must be a resource of this EndDevice".
    program, _, agg, ed, uri, received = world
    assert _subscribe(agg, ed, "/edev", uri).status_code == 201
    assert parse(agg.http.get("/edev").content, EndDeviceList).subscribable == 1
    with django_capture_on_commit_callbacks(execute=True):
        program.edev_list_poll_rate_s = 30
        program.save()
    listing = _notified(received, "/edev", EndDeviceList)
    assert listing.poll_rate == 30 and listing.all == 1
    assert [e.lfdi for e in listing.end_devices] == [ed.lfdi]
    # A new registration by the same client shows in its list.
    received.clear()
    lfdi, sfdi = random_lfdi()
    with django_capture_on_commit_callbacks(execute=True):
        assert agg.http.post_sep("/edev", end_device_body(lfdi, sfdi)).status_code == 201
    assert _notified(received, "/edev", EndDeviceList).all == 2


def test_fsa_and_program_lists_are_notified_on_membership(
    world, utility_a, django_capture_on_commit_callbacks
):
    _, _, agg, ed, uri, received = world
    for resource in (f"/edev/{ed.pk}/fsa", f"/edev/{ed.pk}/derp"):
        assert _subscribe(agg, ed, resource, uri).status_code == 201
    second, group2 = program_with_group(utility_a)
    with django_capture_on_commit_callbacks(execute=True):
        participant_add(program=second, device=ed.device)
    fsas = _notified(received, f"/edev/{ed.pk}/fsa", FunctionSetAssignmentsList)
    assert fsas.all >= 1
    programs = _notified(received, f"/edev/{ed.pk}/derp", DERProgramList)
    assert group2.pk in [int(p.href.rsplit("/", 1)[1]) for p in programs.der_programs]
    assert programs.all == 2


def test_default_der_control_is_notified_when_the_program_changes(
    world, django_capture_on_commit_callbacks
):
    program, group, agg, ed, uri, received = world
    dderc = f"/edev/{ed.pk}/derp/{group.pk}/dderc"
    assert parse(agg.http.get(dderc).content, DefaultDERControl).subscribable == 1
    assert _subscribe(agg, ed, dderc, uri).status_code == 201
    with django_capture_on_commit_callbacks(execute=True):
        program.default_export_limit_w = 2000
        program.save()
    default = _notified(received, dderc, DefaultDERControl)
    assert default.href == dderc


def test_other_clients_are_not_notified_and_foreign_targets_refused(
    world, utility_a, django_capture_on_commit_callbacks
):
    program, _, agg, ed, uri, received = world
    other_program, _ = program_with_group(utility_a)
    other = actor(utility_a, program=other_program, name="other")
    theirs = enrolled_end_device(utility_a, client=other.client, program=other_program)
    assert _subscribe(other, theirs, "/edev", uri).status_code == 201
    for target in (f"/edev/{theirs.pk}/fsa", "/mup", "/dcap"):
        assert _subscribe(agg, ed, target, uri).status_code == 400, target
    with django_capture_on_commit_callbacks(execute=True):
        program.edev_list_poll_rate_s = 45
        program.save()
    assert received == []  # only the other program's client subscribed
    factories.device(utility_a)  # an unrelated device changes nothing
    assert received == []
