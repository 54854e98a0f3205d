"""Hot 2030.5 GETs run a fixed number of queries, whatever the size of the fleet."""

import secrets
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from devices.models import Device
from programs.models import Participant
from programs.services import event_create
from protocol.identity import sfdi_from_lfdi
from protocol.models import EndDevice
from protocol.xml import serialize
from protocol.xml.resources.common import DateTimeInterval
from protocol.xml.resources.der import DERStatus, StateOfChargeStatus
from protocol.xml.resources.mirror import MirrorMeterReading, MirrorUsagePoint, Reading, ReadingType
from tests import factories
from tests.protocol.sep_world import actor, program_with_group

pytestmark = pytest.mark.django_db


def fleet(utility, client, program, n: int) -> list[EndDevice]:
    now = timezone.now()
    # An SFDI is the LFDI's first 36 bits, so n random LFDIs collide in the
    # (utility, sfdi) key with probability about n**2 / 2**37: 0.07 % at 10,000,
    # which CI met. The index as the first 9 hex digits makes each SFDI distinct.
    lfdis = [f"{i:09X}{secrets.token_hex(16)[1:].upper()}" for i in range(n)]
    devices = Device.objects.bulk_create(
        Device(
            utility=utility,
            vendor_name="Acme",
            model_name="PowerCell",
            serial=f"SN{i}",
            lfdi=lfdi,
            state="OR",
            zip_code="97201",
            max_discharge_w=5000,
            max_charge_w=5000,
            capacity_wh=13500,
            soc_pct=80,
            last_heard_at=now,
        )
        for i, lfdi in enumerate(lfdis)
    )
    devices = list(Device.objects.filter(utility=utility).order_by("pk"))
    Participant.objects.bulk_create(
        Participant(utility=utility, program=program, device=d, joined_at=now) for d in devices
    )
    EndDevice.objects.bulk_create(
        EndDevice(
            utility=utility,
            lfdi=d.lfdi,
            sfdi=sfdi_from_lfdi(d.lfdi),
            registered_by=client,
            device=d,
            pin=1,
            changed_time=now,
        )
        for d in devices
    )
    return list(EndDevice.objects.filter(utility=utility).order_by("pk"))


def queries_per_path(n: int, manager) -> dict[str, int]:
    utility = factories.utility()
    program, group = program_with_group(utility, max_events_per_day=None)
    agg = actor(utility, program=program)
    end_devices = fleet(utility, agg.client, program, n)
    for minutes in (60, 180):
        event_create(
            program=program,
            group=group,
            kind="discharge",
            start=timezone.now() + timedelta(minutes=minutes),
            duration_s=1800,
            target_w=20_000,
            actor=manager,
        )
    for curve_type in (11, 12):
        factories.curve(utility, program=program, curve_type=curve_type, y_ref_type=1)
    ed = end_devices[n // 2]
    reported = {"ders": serialize(DERStatus(reading_time=0)).decode()}
    EndDevice.objects.filter(pk=ed.pk).update(reported=reported)
    base = f"/edev/{ed.pk}"
    derp = f"{base}/derp/{group.pk}"
    paths = [
        "/dcap",
        "/edev?l=20",
        base,
        f"{base}/fsa",
        f"{base}/fsa/{program.pk}",
        f"{base}/fsa/{program.pk}/derp",
        f"{base}/derp",
        derp,
        f"{derp}/derc?l=10",
        f"{derp}/actderc",
        f"{derp}/dderc",
        f"{derp}/dc?l=10",
        f"{base}/der",
        f"{base}/der/0",
        f"{base}/der/0/ders",
        f"{base}/rg",
    ]
    agg.http.get(base)  # first contact writes last_seen_at / last_poll_at once
    counts = {}
    for index, path in enumerate(paths):
        with CaptureQueriesContext(connection) as ctx:
            response = agg.http.get(path)
        assert response.status_code == 200, (path, response.content)
        counts[index] = len(ctx)
    return counts


def test_query_counts_do_not_grow_with_the_fleet(manager_a):
    small = queries_per_path(10, manager_a)
    large = queries_per_path(1000, manager_a)
    assert small == large
    # And they are small: certificate lookup, the EndDevice, and what the resource needs.
    assert max(small.values()) <= 6, small


def test_derc_query_count_is_pinned(django_assert_num_queries, manager_a):
    utility = factories.utility()
    program, group = program_with_group(utility)
    agg = actor(utility, program=program)
    (ed,) = fleet(utility, agg.client, program, 1)
    event_create(
        program=program,
        group=group,
        kind="discharge",
        start=timezone.now() + timedelta(minutes=60),
        duration_s=1800,
        target_w=2000,
        actor=manager_a,
    )
    agg.http.get(f"/edev/{ed.pk}")  # first contact: the client is cached since then
    # EndDevice, groups, events, dispatches with their opt-outs (5 before: opt-outs apart)
    with django_assert_num_queries(4):
        agg.http.get(f"/edev/{ed.pk}/derp/{group.pk}/derc")


def control_list_queries(n: int, manager) -> tuple[int, int, int]:
    """(rendered, cached, 304) queries of one device's DERControl list in a group of n."""
    utility = factories.utility()
    program, group = program_with_group(utility, max_events_per_day=None)
    agg = actor(utility, program=program)
    end_devices = fleet(utility, agg.client, program, n)
    event_create(
        program=program,
        group=group,
        kind="discharge",
        start=timezone.now() + timedelta(minutes=60),
        duration_s=1800,
        target_w=n * 1000,
        actor=manager,
    )
    path = f"/edev/{end_devices[n // 2].pk}/derp/{group.pk}/derc?l=10"
    agg.http.get("/dcap")  # first contact: the identity
    with CaptureQueriesContext(connection) as rendered:
        first = agg.http.get(path)
    with CaptureQueriesContext(connection) as cached:
        again = agg.http.get(path)
    with CaptureQueriesContext(connection) as unchanged:
        not_modified = agg.http.get(path, HTTP_IF_NONE_MATCH=first["ETag"])
    assert (first.status_code, again.status_code, not_modified.status_code) == (200, 200, 304)
    return len(rendered), len(cached), len(unchanged)


def test_a_control_list_costs_the_same_for_10_or_1000_devices_in_the_group(manager_a):
    small = control_list_queries(10, manager_a)
    assert small == control_list_queries(1000, manager_a)
    assert small == (4, 0, 0)


def test_an_aggregators_end_device_is_read_without_its_client_and_utility():
    """The EndDevice every per-device request reads first comes with its device alone: the
    utility and the registering aggregator are the requesting client's (loaded with its
    identity), so the query joins neither again, and a DERStatus PUT still names them."""
    utility = factories.utility()
    program, _ = program_with_group(utility)
    agg = actor(utility, program=program)
    (ed,) = fleet(utility, agg.client, program, 1)
    agg.http.get(f"/edev/{ed.pk}")  # first contact: the client is cached since then
    status = serialize(DERStatus(reading_time=int(timezone.now().timestamp()) - 5))
    with CaptureQueriesContext(connection) as ctx:
        answered = agg.http.put_sep(f"/edev/{ed.pk}/der/0/ders", status)
    assert answered.status_code == 204, answered.content
    lookup = next(q["sql"] for q in ctx.captured_queries if 'FROM "protocol_enddevice"' in q["sql"])
    for table in ("protocol_client", "programs_program", "tenancy_utility"):
        assert f'JOIN "{table}"' not in lookup
    assert "ORDER BY" not in lookup
    assert Device.objects.get(pk=ed.device_id).status_at is not None


def _statements(ctx) -> list[str]:
    """What a request sent the database, savepoints aside (the test's transaction)."""
    return [
        q["sql"]
        for q in ctx.captured_queries
        if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT"))
    ]


def test_a_der_status_put_and_a_readings_post_cost_a_fixed_few_statements(
    manager_a, django_capture_on_commit_callbacks
):
    """Everything a client's write costs, what runs after the commit included (telemetry
    receivers, subscriptions): with no subscription and no event still to start, nothing
    but the write itself (issue 18: the subscriptions and the events to plan were asked
    on every write, one statement each)."""
    utility = factories.utility()
    program, _ = program_with_group(utility)
    agg = actor(utility, program=program)
    (ed,) = fleet(utility, agg.client, program, 1)
    now = timezone.now().replace(microsecond=0)
    mup = MirrorUsagePoint(
        mrid="A" * 31 + "1",
        role_flags=0x09,
        service_category_kind=0,
        status=1,
        device_lfdi=ed.lfdi,
        mirror_meter_readings=[
            MirrorMeterReading(
                mrid="B" * 31 + "1",
                reading_type=ReadingType(uom=38, power_of_ten_multiplier=0, kind=37),
            )
        ],
    )
    href = agg.http.post_sep("/mup", serialize(mup))["Location"]
    ders = f"/edev/{ed.pk}/der/0/ders"

    def put(at):
        status = DERStatus(
            reading_time=at, state_of_charge_status=StateOfChargeStatus(date_time=at, value=5000)
        )
        with (
            CaptureQueriesContext(connection) as ctx,
            django_capture_on_commit_callbacks(execute=True),
        ):
            assert agg.http.put_sep(ders, serialize(status)).status_code == 204
        return _statements(ctx)

    def post(at):
        readings = MirrorMeterReading(
            mrid="B" * 31 + "1",
            reading=Reading(value=2600, time_period=DateTimeInterval(duration=60, start=at)),
        )
        with (
            CaptureQueriesContext(connection) as ctx,
            django_capture_on_commit_callbacks(execute=True),
        ):
            assert agg.http.post_sep(href, serialize(readings)).status_code == 201
        return _statements(ctx)

    at = int(now.timestamp()) - 600
    put(at), post(at)  # first contact, and what is kept since
    put_statements, post_statements = put(at + 60), post(at + 60)
    # PUT: the EndDevice, the device's lock and the sample, its status, the report; POST:
    # the mirror with its quantities, the lock and the samples (SQLite: the pending hours
    # and the live state apart). Nothing after the commit.
    expected = (5, 3) if connection.vendor == "postgresql" else (7, 5)
    listed = "\n".join([*put_statements, "--", *post_statements])
    assert (len(put_statements), len(post_statements)) == expected, listed
