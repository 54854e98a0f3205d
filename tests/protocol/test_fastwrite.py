"""The 2030.5 listener's lean writes (protocol.fastwrite): a DERStatus PUT in one statement
and a post of MirrorMeterReadings, with the same writes and answers as the views on
PostgreSQL, and Django for anything else."""

import asyncio
from urllib.parse import quote

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.db import connection
from django.utils import timezone

from devices.choices import Channel
from devices.models import Device, TelemetryRollupPending, TelemetrySample
from portal.listeners import Sep2Http
from protocol import fastwrite, seen
from protocol.models import Client, EndDevice, MirrorMeterReading, MirrorUsagePoint, Subscription
from protocol.services import client_revoke
from protocol.xml import serialize
from protocol.xml.resources.common import DateTimeInterval, time_type
from protocol.xml.resources.mirror import MirrorMeterReading as SepMmr
from protocol.xml.resources.mirror import MirrorMeterReadingList, MirrorReadingSet, ReadingType
from protocol.xml.resources.mirror import MirrorUsagePoint as SepMup
from protocol.xml.resources.mirror import Reading as SepReading
from tests.protocol.sep_world import actor, enrolled_end_device, program_with_group

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the lean write is PostgreSQL's"),
]

DJANGO = "reached Django"


@pytest.fixture(autouse=True)
def _inline(monkeypatch):
    # The store runs on this thread (the test's transaction), not the listener's workers.
    monkeypatch.setattr(
        fastwrite, "_run", sync_to_async(fastwrite._on_worker, thread_sensitive=True)
    )
    fastwrite.owners.clear()
    fastwrite.mirrors.clear()


def status_body(at: int, soc: str = "5050", extra: str = "") -> bytes:
    return (
        f'<DERStatus xmlns="urn:ieee:std:2030.5:ns">{extra}<readingTime>{at}</readingTime>'
        f"<stateOfChargeStatus><dateTime>{at}</dateTime><value>{soc}</value>"
        "</stateOfChargeStatus></DERStatus>"
    ).encode()


FULL = (
    "<alarmStatus>00000005</alarmStatus>"
    "<genConnectStatus><dateTime>@</dateTime><value>01</value></genConnectStatus>"
    "<operationalModeStatus><dateTime>@</dateTime><value>2</value></operationalModeStatus>"
)


def lean_put(
    agg, path: str, body: bytes, content_type: str = "application/sep+xml", method: str = "PUT"
) -> list:
    """The listener's answer to the request, or [DJANGO] when it handed it to Django."""
    headers = {
        "x-ssl-client-cert": quote(agg.cert.cert_pem.decode(), safe=""),
        "x-reservoir-proxy-secret": settings.SEP2_PROXY_SECRET,
        "content-type": content_type,
        "content-length": str(len(body)),
    }
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": b"",
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 40000),
    }
    sent: list = []
    chunks = [body[: len(body) // 2], body[len(body) // 2 :]]

    async def receive():
        chunk = chunks.pop(0) if chunks else b""
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    async def send(message):
        sent.append(message)

    async def django(scope, receive, send):
        # The whole body is handed over, as it came.
        got = b""
        while True:
            message = await receive()
            got += message.get("body", b"")
            if not message.get("more_body"):
                break
        assert got == body
        sent.append(DJANGO)

    async_to_sync(Sep2Http(django))(scope, receive, send)
    return sent


def state(end_device: EndDevice) -> dict:
    """What a status PUT writes, without the ids."""
    end_device.refresh_from_db()
    device = Device.objects.get(pk=end_device.device_id)
    fields = (
        "soc_pct telemetry_at last_heard_at operating_mode storage_connect_status alarms "
        "status_at gen_connect_status der_status"
    ).split()
    return {
        "device": {name: getattr(device, name) for name in fields},
        "samples": list(
            TelemetrySample.objects.filter(device_id=device.pk).values_list(
                "at", "channel", "value"
            )
        ),
        "pending": sorted(
            TelemetryRollupPending.objects.filter(utility_id=device.utility_id).values_list(
                "hour_start", flat=True
            )
        ),
        "reported": end_device.reported,
    }


@pytest.fixture
def fleet(utility_a):
    program, _ = program_with_group(utility_a)
    agg = actor(utility_a, program=program)
    lean, django = (
        enrolled_end_device(utility_a, client=agg.client, program=program) for _ in range(2)
    )
    agg.http.get("/dcap")  # the client is known: cached
    return agg, lean, django


def ders(end_device) -> str:
    return f"/edev/{end_device.pk}/der/0/ders"


def test_a_status_is_stored_as_django_stores_it(fleet, django_assert_num_queries):
    agg, lean, django = fleet
    now = time_type(timezone.now()) - 5
    body = status_body(now, extra=FULL.replace("@", str(now)))
    answered = agg.http.put_sep(ders(django), body)
    assert answered.status_code == 204
    seen.ledger.clear()
    start, end = lean_put(agg, ders(lean), body)
    assert start["status"] == 204
    # The test client adds the portal's middleware headers; the 2030.5 listener has none
    # (tests/deploy compares the real listener's answers).
    assert {k.decode(): v.decode() for k, v in start["headers"]} == {
        k.lower(): v
        for k, v in answered.headers.items()
        if k.lower() in ("content-type", "content-length")
    }
    assert end == {"type": "http.response.body", "body": b""}
    got = state(lean)
    assert got["device"]["soc_pct"] == 50.5 and got["device"]["alarms"]
    assert got == state(django)
    clients, polls = seen.ledger.take()
    assert list(clients) == [agg.client.pk] and list(polls) == [lean.pk]
    # The next one: the ownership is known, one statement.
    with django_assert_num_queries(1):
        start, _ = lean_put(agg, ders(lean), status_body(now + 1, soc="6000"))
    assert start["status"] == 204
    assert state(lean)["device"]["soc_pct"] == 60.0


def test_an_older_status_is_ignored_as_django_ignores_it(fleet):
    agg, lean, django = fleet
    now = time_type(timezone.now()) - 5
    newer = status_body(now, extra=FULL.replace("@", str(now)))
    older = status_body(now - 60, soc="1000", extra="<alarmStatus>00000000</alarmStatus>")
    for end_device in (lean, django):
        assert agg.http.put_sep(ders(end_device), newer).status_code == 204
    assert lean_put(agg, ders(lean), older)[0]["status"] == 204
    assert agg.http.put_sep(ders(django), older).status_code == 204
    got = state(lean)
    assert got["device"]["soc_pct"] == 50.5 and got["device"]["alarms"]  # the newer held
    assert len(got["samples"]) == 2  # the older SoC is history all the same
    assert got == state(django)


def test_a_status_without_soc_is_stored_as_django_stores_it(fleet):
    agg, lean, django = fleet
    now = time_type(timezone.now()) - 5
    body = (
        f'<DERStatus xmlns="urn:ieee:std:2030.5:ns">{FULL.replace("@", str(now))}'
        f"<readingTime>{now}</readingTime></DERStatus>"
    ).encode()
    assert agg.http.put_sep(ders(django), body).status_code == 204
    assert lean_put(agg, ders(lean), body)[0]["status"] == 204
    assert state(lean)["device"]["status_at"] is not None
    assert state(lean) == state(django)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(status_body(time_type(timezone.now()), soc="15000"), id="soc-out-of-range"),
        pytest.param(status_body(time_type(timezone.now()) + 3600), id="soc-in-the-future"),
        pytest.param(
            status_body(
                time_type(timezone.now()),
                extra="<genConnectStatus><dateTime>1</dateTime><value>1ff</value>"
                "</genConnectStatus>",
            ),
            id="bad-enum",
        ),
        pytest.param(
            b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY e "x">]>'
            b'<DERStatus xmlns="urn:ieee:std:2030.5:ns"><readingTime>&e;</readingTime>'
            b"</DERStatus>",
            id="hostile-xml",
        ),
        pytest.param(b"<DERStatus", id="not-xml"),
        pytest.param(
            b'<DERSettings xmlns="urn:ieee:std:2030.5:ns"><modesEnabled>01</modesEnabled>'
            b"</DERSettings>",
            id="another-resource",
        ),
        pytest.param(
            status_body(time_type(timezone.now())).replace(
                b"<DERStatus ", b'<DERStatus schemaVer="2023" '
            ),
            id="a-new-schema-version",
        ),
    ],
)
def test_what_django_refuses_goes_to_django_with_nothing_written(fleet, body):
    agg, lean, _ = fleet
    before = state(lean)
    assert lean_put(agg, ders(lean), body) == [DJANGO]
    assert state(lean) == before


def test_a_body_django_must_answer_goes_to_django(fleet, settings):
    agg, lean, _ = fleet
    body = status_body(time_type(timezone.now()))
    assert lean_put(agg, ders(lean), body, content_type="text/xml") == [DJANGO]
    settings.SEP2_MAX_BODY_BYTES = len(body) - 1
    assert lean_put(agg, ders(lean), body) == [DJANGO]
    assert state(lean)["samples"] == []


def test_another_clients_or_an_unknown_end_device_goes_to_django(fleet, utility_a):
    agg, lean, _ = fleet
    other = actor(utility_a, program=agg.client.program, name="other")
    other.http.get("/dcap")
    body = status_body(time_type(timezone.now()))
    assert lean_put(other, ders(lean), body) == [DJANGO]
    assert other.http.put_sep(ders(lean), body).status_code == 404
    assert lean_put(agg, f"/edev/{lean.pk + 1000}/der/0/ders", body) == [DJANGO]
    assert lean_put(agg, f"/edev/{lean.pk}/der/1/ders", body) == [DJANGO]
    assert state(lean)["samples"] == []


def test_a_device_less_end_device_goes_to_django(fleet):
    agg, lean, _ = fleet
    EndDevice.objects.filter(pk=lean.pk).update(device=None)
    assert lean_put(agg, ders(lean), status_body(time_type(timezone.now()))) == [DJANGO]


def test_a_revoked_certificate_goes_to_django(fleet):
    agg, lean, _ = fleet
    now = time_type(timezone.now()) - 5
    assert lean_put(agg, ders(lean), status_body(now))[0]["status"] == 204
    client_revoke(client=Client.objects.get(pk=agg.client.pk))
    assert lean_put(agg, ders(lean), status_body(now + 1, soc="7000")) == [DJANGO]
    assert agg.http.put_sep(ders(lean), status_body(now + 1)).status_code == 403
    assert len(state(lean)["samples"]) == 1


def test_subscribers_hear_of_a_lean_status(fleet, django_assert_num_queries):
    agg, lean, _ = fleet
    subscription = Subscription.objects.create(
        utility=agg.client.utility,
        end_device=lean,
        subscribed_resource=ders(lean),
        notification_uri="https://example.test/notify",
        limit=1,
    )
    with django_assert_num_queries(2):  # the ownership, then one statement
        start, _ = lean_put(agg, ders(lean), status_body(time_type(timezone.now()) - 10))
    assert start["status"] == 204
    with django_assert_num_queries(1):  # the Notification row is written by the statement
        start, _ = lean_put(agg, ders(lean), status_body(time_type(timezone.now()) - 5))
    assert start["status"] == 204
    owed = list(subscription.deliveries.all())
    assert [d.resource for d in owed] == [ders(lean)] * 2
    assert all((d.due_at - d.created_at).total_seconds() == 30 for d in owed)
    assert len({d.task_id for d in owed}) == 2 and all(len(d.task_id) == 36 for d in owed)
    assert all(d.attempts == 0 and d.delivered_at is None for d in owed)


# --- posts of MirrorMeterReadings -------------------------------------------------------


def mirror(agg, end_device, at: int | None = None) -> str:
    """A mirror of the EndDevice with a W quantity and a power factor one, first read at
    `at` (two hours ago by default); its href."""
    at = time_type(timezone.now()) - 7200 if at is None else at
    prefix = f"{end_device.pk:08X}"
    body = SepMup(
        mrid=prefix + "A" * 24,
        role_flags=0x09,
        service_category_kind=0,
        status=1,
        device_lfdi=end_device.lfdi,
        mirror_meter_readings=[
            SepMmr(
                mrid=prefix + "B" * 23 + suffix,
                description=suffix,
                reading_type=ReadingType(uom=uom, kind=37),
                reading=SepReading(value=1, time_period=DateTimeInterval(duration=60, start=at)),
            )
            for suffix, uom in (("1", 38), ("2", 65))
        ],
    )
    created = agg.http.post_sep("/mup", serialize(body))
    assert created.status_code == 201, created.content
    return created["Location"]


def readings(end_device, at: int, values: list[int], suffix: str = "1", **extra) -> bytes:
    mrid = f"{end_device.pk:08X}" + "B" * 23 + suffix
    return serialize(
        SepMmr(
            mrid=mrid,
            mirror_reading_sets=[
                MirrorReadingSet(
                    mrid=mrid[:-1] + "C",
                    time_period=DateTimeInterval(duration=60 * len(values), start=at),
                    readings=[
                        SepReading(
                            value=v, time_period=DateTimeInterval(duration=60, start=at + 60 * k)
                        )
                        for k, v in enumerate(values)
                    ],
                )
            ],
            **extra,
        )
    )


def power_state(end_device) -> dict:
    got = state(end_device)
    device = Device.objects.get(pk=end_device.device_id)
    got["device"] = {
        name: getattr(device, name)
        for name in ("power_w", "voltage_v", "telemetry_at", "last_heard_at")
    }
    got["samples"] = sorted(
        TelemetrySample.objects.filter(device_id=device.pk).values_list("at", "channel", "value")
    )
    del got["reported"]
    return got


def test_readings_are_stored_as_django_stores_them(fleet, django_assert_num_queries):
    agg, lean, django = fleet
    now = time_type(timezone.now())
    lean_href, django_href = mirror(agg, lean, now - 7200), mirror(agg, django, now - 7200)
    at = now - 3600
    body = readings(django, at, [2500, 2600, 2700, 2800])
    answered = agg.http.post_sep(django_href, body)
    assert answered.status_code == 201
    body = readings(lean, at, [2500, 2600, 2700, 2800])
    start, end = lean_put(agg, lean_href, body, method="POST")
    assert start["status"] == 201 and end["body"] == b""
    assert {k.decode(): v.decode() for k, v in start["headers"]} == {
        "content-type": answered["Content-Type"],
        "content-length": "0",
        "location": lean_href,
    }
    got = power_state(lean)
    assert got["device"]["power_w"] == 2800 and len(got["samples"]) == 4 + 1
    assert got == power_state(django)
    # The mirror and its quantities are known: the ingest is one statement, for one
    # reading or many.
    for values in ([1], [1, 2, 3, 4]):
        at += 600
        with django_assert_num_queries(1):
            answer = lean_put(agg, lean_href, readings(lean, at, values), method="POST")
        assert answer[0]["status"] == 201


@pytest.mark.parametrize(
    "case",
    ["declared", "other-quantity", "unknown-mrid", "future", "hostile", "empty-set"],
)
def test_readings_django_must_answer_go_to_django_with_nothing_written(fleet, case):
    agg, lean, _ = fleet
    href = mirror(agg, lean)
    at = time_type(timezone.now()) - 300
    body = {
        "declared": readings(lean, at, [1], reading_type=ReadingType(uom=38, kind=37)),
        "other-quantity": readings(lean, at, [1], suffix="2"),
        "unknown-mrid": readings(lean, at, [1], suffix="9"),
        "future": readings(lean, at + 7200, [1]),
        "hostile": b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY e "x">]>'
        b'<MirrorMeterReading xmlns="urn:ieee:std:2030.5:ns"><mRID>&e;</mRID>'
        b"</MirrorMeterReading>",
        "empty-set": readings(lean, at, []),
    }[case]
    before = power_state(lean)
    assert lean_put(agg, href, body, method="POST") == [DJANGO]
    assert power_state(lean) == before


def test_another_clients_mirror_goes_to_django(fleet, utility_a):
    agg, lean, _ = fleet
    href = mirror(agg, lean)
    other = actor(utility_a, program=agg.client.program, name="other")
    other.http.get("/dcap")
    body = readings(lean, time_type(timezone.now()) - 300, [1])
    assert lean_put(other, href, body, method="POST") == [DJANGO]
    assert other.http.post_sep(href, body).status_code == 404


def both(agg, lean, django, lean_href, django_href, make) -> None:
    """Post make(end_device) through Django to `django` (the client known after it), then
    lean to `lean`."""
    assert agg.http.post_sep(django_href, make(django)).status_code == 201
    assert lean_put(agg, lean_href, make(lean), method="POST")[0]["status"] == 201


def add_quantity(end_device, href: str, suffix: str, channel: str) -> None:
    """One more quantity of the mirror at `href`, on `channel` in its canonical unit."""
    mid = int(href.rsplit("/", 1)[1])
    row = MirrorMeterReading.objects.get(
        mirror_usage_point_id=mid, mrid=f"{end_device.pk:08X}" + "B" * 23 + "1"
    )
    row.pk, row.mrid, row.channel, row.unit, row.power_of_ten = (
        None,
        row.mrid[:-1] + suffix,
        channel,
        "",
        0,
    )
    row.save()


def readings_list(end_device, at: int, by_suffix: dict) -> bytes:
    """A MirrorMeterReadingList of readings of the quantities `by_suffix` names (values,
    or (seconds after `at`, values))."""
    from protocol.xml import parse

    return serialize(
        MirrorMeterReadingList(
            all=len(by_suffix),
            results=len(by_suffix),
            mirror_meter_readings=[
                parse(readings(end_device, at + shift, values, suffix=suffix), SepMmr)
                for suffix, (shift, values) in (
                    (k, v if isinstance(v, tuple) else (0, v)) for k, v in by_suffix.items()
                )
            ],
        )
    )


@pytest.mark.parametrize("case", ["four", "older", "duplicates", "equal-times"])
def test_readings_leave_what_django_leaves(fleet, case):
    agg, lean, django = fleet
    now = time_type(timezone.now())
    # Both mirrors' first readings at the same time: read apart, a second could pass.
    lean_href, django_href = mirror(agg, lean, now - 7200), mirror(agg, django, now - 7200)
    for end_device, href in ((lean, lean_href), (django, django_href)):
        add_quantity(end_device, href, "3", Channel.V)
        add_quantity(end_device, href, "4", Channel.WH_IMPORT)  # no live field of its own
    at = now - 3600

    def post(make):
        both(agg, lean, django, lean_href, django_href, make)

    if case == "four":
        post(lambda e: readings(e, at, [2500, 2600, 2700, 2800]))
    elif case == "older":
        post(lambda e: readings_list(e, at, {"1": [2500, 2600], "3": [230, 231], "4": [10, 20]}))
        # Older than held on the W channel, newer on the other.
        post(lambda e: readings_list(e, at - 600, {"1": [100]}))
        post(lambda e: readings_list(e, at - 600, {"1": [100], "3": (900, [220, 221]), "4": [5]}))
    elif case == "duplicates":
        post(lambda e: readings(e, at, [2500, 2600, 2700]))
        post(lambda e: readings(e, at, [2500, 2600, 2700, 2800]))  # three stored already
        post(lambda e: readings(e, at + 60, [2600, 2700]))  # all stored: nothing moves
    else:  # every quantity read at the same times; a newer post at one time too
        post(lambda e: readings_list(e, at, {"1": [2500, 2600], "3": [230, 231], "4": [10, 20]}))
        post(lambda e: readings_list(e, at + 120, {"1": [2700], "3": [232], "4": [30]}))
        post(lambda e: readings_list(e, at + 120, {"1": [2750], "3": [233]}))  # same times
    got, expected = power_state(lean), power_state(django)
    assert got["device"]["telemetry_at"] and got["samples"]
    assert got == expected


def test_readings_send_telemetry_ingested_as_django_sends_it(
    fleet, django_capture_on_commit_callbacks
):
    from devices.signals import telemetry_ingested

    agg, lean, _ = fleet
    href = mirror(agg, lean)
    agg.http.get("/dcap")  # the client known again
    heard = []

    def receiver(**kwargs):
        heard.append({k: v for k, v in kwargs.items() if k != "signal"})

    telemetry_ingested.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            body = readings(lean, time_type(timezone.now()) - 300, [1, 2])
            assert lean_put(agg, href, body, method="POST")[0]["status"] == 201
    finally:
        telemetry_ingested.disconnect(receiver)
    assert heard == [
        {
            "sender": TelemetrySample,
            "utility_id": lean.utility_id,
            "device_ids": [lean.device_id],
            "source": "sep2",
        }
    ]


def test_a_reading_of_a_device_of_another_utility_writes_nothing(fleet, utility_b):
    agg, lean, _ = fleet
    href = mirror(agg, lean)
    agg.http.get("/dcap")  # the client known again
    body = readings(lean, time_type(timezone.now()) - 300, [1])
    assert lean_put(agg, href, body, method="POST")[0]["status"] == 201
    Device.objects.filter(pk=lean.device_id).update(utility=utility_b)
    agg.http.get("/dcap")
    before = power_state(lean)
    assert lean_put(
        agg, href, readings(lean, time_type(timezone.now()) - 200, [2]), method="POST"
    ) == [DJANGO]
    assert power_state(lean) == before


@pytest.mark.parametrize("change", ["quantity-added", "quantity-other", "deleted", "moved"])
def test_a_mirror_changed_after_it_was_kept_is_honoured(fleet, change):
    agg, lean, django = fleet
    href = mirror(agg, lean)
    agg.http.get("/dcap")  # the client known again
    at = time_type(timezone.now()) - 3600
    assert lean_put(agg, href, readings(lean, at, [1]), method="POST")[0]["status"] == 201
    mid = int(href.rsplit("/", 1)[1])
    quantities = MirrorMeterReading.objects.filter(mirror_usage_point_id=mid)
    held = quantities.get(mrid=f"{lean.pk:08X}" + "B" * 23 + "1")
    if change == "quantity-added":
        held.pk, held.mrid = None, held.mrid[:-1] + "3"
        held.save()
        body = readings(lean, at + 60, [2], suffix="3")
        assert lean_put(agg, href, body, method="POST")[0]["status"] == 201
        assert power_state(lean)["device"]["power_w"] == 2
        return
    if change == "quantity-other":
        quantities.filter(pk=held.pk).update(channel=fastwrite.OTHER)
    elif change == "deleted":
        MirrorUsagePoint.objects.filter(pk=mid).delete()
    else:  # to another of the client's EndDevices: its device gets the readings
        MirrorUsagePoint.objects.filter(pk=mid).update(end_device=django)
    agg.http.get("/dcap")  # the client known again
    before = power_state(lean)
    answer = lean_put(agg, href, readings(lean, at + 60, [2]), method="POST")
    after = power_state(lean)
    assert (after["device"], after["samples"]) == (before["device"], before["samples"])
    if change == "moved":
        assert answer[0]["status"] == 201
        assert power_state(django)["device"]["power_w"] == 2
    else:
        assert answer == [DJANGO]


def test_choosing_the_lean_path_makes_no_database_wrapper_per_request(monkeypatch):
    """On the event loop each request is a task of its own; reading `connection` there made
    a new database wrapper per request (a tenth of the listener's CPU per PUT)."""
    from django.db import connections
    from django.urls import resolve

    match = resolve(ders(EndDevice(pk=1)))
    made: list[str] = []
    create = connections.create_connection
    monkeypatch.setattr(
        connections, "create_connection", lambda alias: made.append(alias) or create(alias)
    )

    async def requests() -> list[bool]:
        async def one() -> bool:
            return fastwrite.is_der_status(match) and fastwrite.is_mirror(match) is False

        return [await asyncio.create_task(one()) for _ in range(5)]

    fastwrite.is_der_status(match)  # the first request may find out which database it is
    made.clear()
    assert asyncio.run(requests()) == [True] * 5
    assert made == []
