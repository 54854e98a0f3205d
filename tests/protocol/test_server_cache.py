"""Cached 2030.5 answers (protocol.cache): few queries, 304s, and never a stale or another
client's answer."""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from devices.models import Device
from programs.models import Event, Participant
from programs.services import event_create, opt_out_record
from protocol import cache
from protocol.models import Client, EndDevice
from protocol.services import client_revoke
from protocol.xml import serialize
from protocol.xml.resources.der import DERStatus
from tenancy.generations import bumped_by
from tests import factories
from tests.protocol.sep_world import (
    actor,
    enrolled_end_device,
    program_with_group,
    random_lfdi,
)
from tests.protocol.test_server_queries import fleet

pytestmark = pytest.mark.django_db


def world(manager, n: int = 3):
    utility = factories.utility()
    program, group = program_with_group(utility, max_events_per_day=None)
    agg = actor(utility, program=program)
    end_devices = fleet(utility, agg.client, program, n)
    event_create(
        program=program,
        group=group,
        kind="discharge",
        start=timezone.now() + timedelta(hours=1),
        duration_s=1800,
        target_w=20_000,
        actor=manager,
    )
    return utility, program, group, agg, end_devices


def paths(end_device, group) -> list[str]:
    base = f"/edev/{end_device.pk}"
    derp = f"{base}/derp/{group.pk}"
    return [
        "/dcap",
        "/edev?l=10",
        base,
        f"{base}/fsa?l=10",
        f"{base}/derp?l=10",
        derp,
        f"{derp}/derc?l=10",
        f"{derp}/dderc",
        f"{base}/der/0",
    ]


def test_a_cached_get_costs_at_most_two_queries_and_a_304_none(
    manager_a, django_assert_max_num_queries
):
    _, _, group, agg, end_devices = world(manager_a)
    for path in paths(end_devices[1], group):
        first = agg.http.get(path)
        assert first.status_code == 200, path
        assert first["ETag"] and first["Last-Modified"]
        with django_assert_max_num_queries(2):
            again = agg.http.get(path)
        assert again.status_code == 200
        assert again.content == first.content
        assert again["ETag"] == first["ETag"]
        with django_assert_max_num_queries(0):
            unchanged = agg.http.get(path, HTTP_IF_NONE_MATCH=first["ETag"])
        assert unchanged.status_code == 304, path
        assert unchanged.content == b""
        assert unchanged["ETag"] == first["ETag"]
        stale = agg.http.get(path, HTTP_IF_NONE_MATCH='"not-this-one"')
        assert stale.status_code == 200
        assert stale.content == first.content


def test_a_304_is_only_for_an_authenticated_client(manager_a):
    _, _, group, agg, end_devices = world(manager_a)
    path = f"/edev/{end_devices[0].pk}/derp/{group.pk}/derc?l=10"
    etag = agg.http.get(path)["ETag"]
    anonymous = type(agg.http)()  # no certificate
    assert anonymous.get(path, HTTP_IF_NONE_MATCH=etag).status_code == 403


@pytest.mark.parametrize("n", [10, 10_000])
def test_derc_lists_cost_the_same_whatever_the_group_size(
    n, manager_a, django_assert_max_num_queries
):
    _, _, group, agg, end_devices = world(manager_a, n)
    path = f"/edev/{end_devices[n // 2].pk}/derp/{group.pk}/derc?l=10"
    agg.http.get(f"/edev/{end_devices[n // 2].pk}")  # first contact: the touches
    with django_assert_max_num_queries(5):  # EndDevice, groups, events, dispatches, opt-outs
        assert agg.http.get(path).status_code == 200
    with django_assert_max_num_queries(0):
        assert agg.http.get(path).status_code == 200


def test_no_answer_crosses_clients_or_utilities(manager_a):
    _, program, group, agg, end_devices = world(manager_a)
    # Another aggregator of the same utility and program, with EndDevices of its own.
    other = actor(agg.client.utility, program=program, name="other")
    theirs = enrolled_end_device(agg.client.utility, client=other.client, program=program)
    # And a client of another utility.
    far_utility = factories.utility()
    far_program, _ = program_with_group(far_utility)
    far = actor(far_utility, program=far_program, name="far")
    far_device = enrolled_end_device(far_utility, client=far.client, program=far_program)

    mine = agg.http.get("/edev?l=10")
    assert other.http.get("/edev?l=10").content != mine.content
    assert far.http.get("/edev?l=10").content != mine.content
    assert f"/edev/{theirs.pk}" in other.http.get("/edev?l=10").content.decode()
    assert f"/edev/{theirs.pk}" not in agg.http.get("/edev?l=10").content.decode()
    assert f"/edev/{far_device.pk}" in far.http.get("/edev?l=10").content.decode()
    assert agg.http.get("/dcap").content != far.http.get("/dcap").content or (
        # the same counts would render the same bytes: then each must still be its own
        cache.responses.get(cache.response_key(agg.client.pk, "/dcap", ""))
        is not cache.responses.get(cache.response_key(far.client.pk, "/dcap", ""))
    )
    # A path another client has cached is still 404 for everyone else.
    for path in paths(end_devices[0], group)[2:]:
        owner = agg.http.get(path)
        assert owner.status_code == 200
        for stranger in (other, far):
            refused = stranger.http.get(path, HTTP_IF_NONE_MATCH=owner["ETag"])
            assert refused.status_code == 404, (path, refused.content)


def test_revocation_refuses_the_next_request(manager_a):
    _, _, group, agg, end_devices = world(manager_a)
    path = f"/edev/{end_devices[0].pk}/derp/{group.pk}/derc?l=10"
    etag = agg.http.get(path)["ETag"]
    assert agg.http.get(path).status_code == 200  # served from the cache
    client_revoke(client=Client.objects.get(pk=agg.client.pk))
    assert agg.http.get(path).status_code == 403
    assert agg.http.get(path, HTTP_IF_NONE_MATCH=etag).status_code == 403
    assert agg.http.get("/dcap").status_code == 403


def test_revocation_by_update_refuses_the_next_request(manager_a):
    _, _, _, agg, _ = world(manager_a)
    assert agg.http.get("/dcap").status_code == 200
    Client.objects.filter(pk=agg.client.pk).update(revoked=True)
    assert agg.http.get("/dcap").status_code == 403


def test_an_event_change_invalidates_the_control_list(manager_a):
    _, _, group, agg, end_devices = world(manager_a)
    path = f"/edev/{end_devices[0].pk}/derp/{group.pk}/derc?l=10"
    before = agg.http.get(path)
    event = Event.objects.get(group=group)
    opt_out_record(event=event, device=end_devices[0].device, source="test")
    after = agg.http.get(path)
    assert after.content != before.content
    assert agg.http.get(path, HTTP_IF_NONE_MATCH=before["ETag"]).status_code == 200


def test_bulk_writes_invalidate(manager_a):
    utility, _, _, agg, end_devices = world(manager_a)
    listing = agg.http.get("/edev?l=10").content
    dcap = agg.http.get("/dcap").content
    # bulk_create: no model signals.
    lfdi, sfdi = random_lfdi()
    device = factories.device(utility, lfdi=lfdi, sfdi=sfdi)
    EndDevice.objects.bulk_create(
        [
            EndDevice(
                utility=utility,
                lfdi=lfdi,
                sfdi=sfdi,
                registered_by=agg.client,
                device=device,
                pin=1,
                changed_time=timezone.now(),
            )
        ]
    )
    assert agg.http.get("/edev?l=10").content != listing
    assert agg.http.get("/dcap").content != dcap
    # A queryset update() of a column the EndDevice shows.
    one = f"/edev/{end_devices[0].pk}"
    shown = agg.http.get(one).content
    EndDevice.objects.filter(pk=end_devices[0].pk).update(enabled=False)
    assert agg.http.get(one).content != shown
    # Leaving the program (an update of left_at) drops the DERProgram.
    derps = agg.http.get(f"{one}/derp?l=10").content
    Participant.objects.filter(device=end_devices[0].device).update(left_at=timezone.now())
    assert agg.http.get(f"{one}/derp?l=10").content != derps


def test_no_get_of_the_mix_queries_once_cached_even_minutes_later(
    manager_a, monkeypatch, django_assert_num_queries
):
    """Failed before protocol.seen: a poll a minute after the last note wrote last_seen_at
    and last_poll_at inline (two UPDATEs in the request)."""
    _, _, group, agg, end_devices = world(manager_a)
    mix = ["/tm", *paths(end_devices[1], group)]
    first = {path: agg.http.get(path) for path in mix}
    later = timezone.now() + timedelta(minutes=5)
    monkeypatch.setattr(timezone, "now", lambda: later)
    for path in mix:
        with django_assert_num_queries(0):
            assert agg.http.get(path).status_code == 200, path
        if path != "/tm":  # the clock's answer has no validator
            with django_assert_num_queries(0):
                condition = first[path]["ETag"]
                assert agg.http.get(path, HTTP_IF_NONE_MATCH=condition).status_code == 304


def test_a_device_rating_change_invalidates_its_controls(manager_a):
    _, _, group, agg, end_devices = world(manager_a)
    event = Event.objects.get(group=group)
    Event.objects.filter(pk=event.pk).update(
        kind="export_limit", target_w=None, op_mod_exp_lim_w=event.target_w
    )
    path = f"/edev/{end_devices[0].pk}/derp/{group.pk}/derc?l=10"
    before = agg.http.get(path).content
    Device.objects.filter(pk=end_devices[0].device_id).update(set_max_w=1_000_000)
    assert agg.http.get(path).content != before


def test_a_put_invalidates_that_device_only(manager_a, django_assert_max_num_queries):
    _, _, group, agg, end_devices = world(manager_a)
    one, two = end_devices[0], end_devices[1]
    body = serialize(DERStatus(reading_time=int(timezone.now().timestamp()) - 5))
    assert agg.http.put_sep(f"/edev/{one.pk}/der/0/ders", body).status_code == 204
    first = agg.http.get(f"/edev/{one.pk}/der/0/ders")
    other = f"/edev/{two.pk}/derp/{group.pk}/derc?l=10"
    agg.http.get(other)
    agg.http.get(f"/edev/{two.pk}")
    newer = serialize(DERStatus(reading_time=int(timezone.now().timestamp()) - 1))
    assert agg.http.put_sep(f"/edev/{one.pk}/der/0/ders", newer).status_code == 204
    changed = agg.http.get(f"/edev/{one.pk}/der/0/ders")
    assert changed.content != first.content
    assert changed["ETag"] != first["ETag"]
    with django_assert_max_num_queries(0):  # the other device's copies stay valid
        assert agg.http.get(other).status_code == 200


def test_a_write_rolled_back_leaves_nothing_stale(manager_a):
    _, _, _, agg, end_devices = world(manager_a)
    one = f"/edev/{end_devices[0].pk}"
    shown = agg.http.get(one).content
    with pytest.raises(RuntimeError), transaction.atomic():
        EndDevice.objects.filter(pk=end_devices[0].pk).update(enabled=False)
        assert agg.http.get(one).content != shown  # inside: sees its own write
        raise RuntimeError
    assert agg.http.get(one).content == shown


@pytest.mark.parametrize(
    ("sql", "invalidates"),
    [
        ('SELECT 1 FROM "protocol_enddevice"', False),
        ('UPDATE "protocol_enddevice" SET "last_poll_at" = %s WHERE "id" = %s', False),
        ('UPDATE "protocol_enddevice" SET "reported" = %s WHERE "id" = %s', False),
        ('UPDATE "protocol_enddevice" SET "enabled" = %s WHERE "id" = %s', True),
        ('UPDATE "protocol_client" SET "last_seen_at" = %s WHERE "id" = %s', False),
        ('UPDATE "protocol_client" SET "revoked" = %s, "revoked_at" = %s WHERE "id" = 1', True),
        (
            'UPDATE "devices_device" SET "soc_pct" = CASE WHEN ("devices_device"."id" = 1) '
            'THEN %s ELSE NULL END, "telemetry_at" = %s WHERE "devices_device"."id" IN (1)',
            False,
        ),
        ('UPDATE "devices_device" SET "set_max_w" = %s WHERE "id" = %s', True),
        ("INSERT INTO programs_dispatch (utility_id) SELECT 1", True),
        ('DELETE FROM "programs_optout" WHERE "id" = 1', True),
        ('INSERT INTO "devices_telemetrysample" ("at") VALUES (%s)', False),
        ('update "programs_event" set "status" = %s', True),
    ],
)
def test_which_writes_invalidate(sql, invalidates):
    assert (cache.GLOBAL in bumped_by(sql)) is invalidates


def test_generations_survive_a_lost_store(settings, tmp_path):
    """A token never bumped is a fresh random one, not 0: a new store can't match old
    entries."""
    store = cache._FileGenerations(tmp_path / "g.bin")
    first = store.get_many(["a", "b"])
    assert all(first) and store.get_many(["a", "b"]) == first
    store.bump(["a"])
    after = store.get_many(["a", "b"])
    assert after[0] != first[0] and after[1] == first[1]
    other = cache._FileGenerations(tmp_path / "other.bin")
    assert other.get_many(["a"]) != after[:1]


def test_a_simulated_outage_is_not_hidden_by_the_cache(manager_a):
    _, _, _, agg, _ = world(manager_a)
    agg.http.get("/dcap")
    with CaptureQueriesContext(connection) as ctx:
        agg.http.get("/dcap")
    assert len(ctx) == 0
    Client.objects.filter(pk=agg.client.pk).update(outage_until=timezone.now() + timedelta(1))
    assert agg.http.get("/dcap").status_code == 503


def test_a_status_put_runs_a_fixed_small_number_of_statements(manager_a):
    _, _, _, agg, end_devices = world(manager_a)
    path = f"/edev/{end_devices[0].pk}/der/0/ders"
    agg.http.get(f"/edev/{end_devices[0].pk}")  # first contact: the touches
    body = serialize(DERStatus(reading_time=int(timezone.now().timestamp()) - 5))
    with CaptureQueriesContext(connection) as ctx:
        assert agg.http.put_sep(path, body).status_code == 204
    statements = [q["sql"] for q in ctx.captured_queries if "SAVEPOINT" not in q["sql"]]
    # The EndDevice (with its device and utility); the SoC sample: lock, insert, rollups
    # due, live state; the status: lock, update; the report; its subscribers. No unique or
    # constraint lookups, no separate utility read (issue 18: about 15 per PUT before).
    assert len(statements) <= 9, statements


def test_a_cached_control_list_follows_the_clock_with_no_write(manager_a, monkeypatch):
    # Failed before: a cached DERControl list kept an ended control, and the active list
    # stayed empty after a start, until some write happened to invalidate them.
    import time

    from protocol.xml import parse
    from protocol.xml.resources.derp import DERControlList

    _, _, group, agg, end_devices = world(manager_a)
    base = f"/edev/{end_devices[0].pk}/derp/{group.pk}"
    event = Event.objects.get(group=group)

    def listed(path: str) -> int:
        return len(parse(agg.http.get(path).content, DERControlList).der_controls)

    def clock_at(instant):
        monkeypatch.setattr(timezone, "now", lambda: instant)
        monkeypatch.setattr(time, "time", lambda: instant.timestamp())

    assert (listed(f"{base}/derc?l=10"), listed(f"{base}/actderc?l=10")) == (1, 0)
    assert (listed(f"{base}/derc?l=10"), listed(f"{base}/actderc?l=10")) == (1, 0)  # cached
    clock_at(event.start + timedelta(seconds=1))
    assert (listed(f"{base}/derc?l=10"), listed(f"{base}/actderc?l=10")) == (1, 1)
    clock_at(event.end + timedelta(seconds=1))
    assert (listed(f"{base}/derc?l=10"), listed(f"{base}/actderc?l=10")) == (0, 0)
