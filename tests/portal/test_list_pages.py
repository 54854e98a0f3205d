"""Every portal list page, one table of cases: renders per role, search, filters, bad filter
values, paging that keeps the filters, constant query counts and tenant isolation."""

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from enrollment.models import Customer
from portal.models import Alert
from tenancy.choices import ALL_ROLES, Role
from tests import factories


def _update(obj, **fields):
    for name, value in fields.items():
        setattr(obj, name, value)
    if fields:
        obj.save()
    return obj


def _alert(utility, marker, **fields):
    defaults = {
        "rule": factories.alert_rule(utility),
        "kind": "device_stale",
        "subject_key": "device:1",
        "message": f"{marker}Device silent",
        "opened_at": timezone.now(),
    }
    return Alert.objects.create(utility=utility, **{**defaults, **fields})


def _customer(utility, marker, **enrollment_fields) -> Customer:
    customer = factories.customer(utility, marker)
    factories.enrollment(utility, marker, customer=customer, **enrollment_fields)
    return customer


def _application(utility, marker, **fields):
    return _update(factories.vendor_application(utility, marker), **fields)


def _batch(utility, marker, **fields):
    return _update(factories.payment_batch(utility, marker), **fields)


@dataclass
class Filter:
    """``param=value`` shows a row made with ``fields`` and hides a row made without them.

    ``fields`` and ``value`` may be callables of the utility (fields) or the made row (value)
    when they need a row of their own, e.g. a program to filter by.
    """

    param: str
    value: str | Callable
    fields: dict | Callable = field(default_factory=dict)


@dataclass
class Case:
    name: str
    url: str
    make: Callable  # (utility, marker, **fields) -> the row the page lists
    filters: list[Filter] = field(default_factory=list)
    search: Callable = lambda obj, marker: marker  # the term that finds the row made with marker

    def __str__(self):
        return self.name


def _program_fk(path="program"):
    """A filter by one of the utility's programs, the row made in it."""

    def fields(utility):
        return {"program": factories.program(utility, "Fk")}

    def value(obj):
        program_id = obj
        for part in path.split("."):
            program_id = getattr(program_id, part)
        return str(program_id.pk)

    return Filter("program", value, fields)


def _hex(marker: str) -> str:
    return marker.encode().hex().upper()[:12].ljust(12, "0")


def _end_device(utility, marker, **fields):
    # LFDIs are what the page searches: these start with the marker, in hex.
    # LFDIs sharing a prefix share SFDIs too (its first 36 bits): draw those apart.
    lfdi = _hex(marker) + secrets.token_hex(14).upper()
    sfdi = 10**11 + secrets.randbelow(10**11)
    return factories.end_device(utility, marker, lfdi=lfdi, sfdi=sfdi, **fields)


def _event(utility, marker, **fields):
    program = fields.pop("program", None)
    group = factories.dispatch_group(utility, marker, prog=program) if program else None
    return factories.event(utility, marker, **({"group": group} if group else {}), **fields)


CASES = [
    Case(
        "programs",
        "programs:program-list",
        factories.program,
        [
            Filter("status", "active", {"status": "active"}),
            Filter("profile", "csip_aus", {"profile": "csip_aus"}),
            Filter("sandbox", "yes", {"is_sandbox": True}),
        ],
    ),
    Case("brands", "portal:brand-list", lambda u, m, **f: factories.brand(u, m)),
    Case(
        "connector sites",
        "connectors:site-list",
        factories.connector_site,
        [
            Filter("status", "online", {"status": "online"}),
            Filter("enabled", "no", {"enabled": False}),
        ],
    ),
    Case(
        "2030.5 clients",
        "protocol:client-list",
        factories.sep_client,
        [
            Filter("kind", "device", {"kind": "device"}),
            Filter("revoked", "yes", {"revoked": True}),
            _program_fk(),
        ],
    ),
    Case(
        "EndDevices",
        "protocol:end-device-list",
        _end_device,
        [
            Filter(
                "client",
                lambda obj: str(obj.registered_by_id),
                lambda utility: {"registered_by": factories.sep_client(utility)},
            ),
            Filter("linked", "no", {"device": None}),
            Filter("enabled", "no", {"enabled": False}),
        ],
        search=lambda obj, marker: _hex(marker),
    ),
    Case(
        "devices",
        "devices:device-list",
        factories.device,
        [
            Filter("vendor_name", "Volt", {"vendor_name": "Volt"}),
            Filter("state", "WA", {"state": "WA"}),
            Filter("health", "faulted", {"alarms": ["overtemp"]}),
        ],
    ),
    Case(
        "alerts",
        "portal:alert-list",
        _alert,
        [
            Filter("kind", "heartbeat_late", {"kind": "heartbeat_late"}),
            Filter("status", "acknowledged", {"status": "acknowledged"}),
        ],
    ),
    Case(
        "enrollment queue",
        "enrollment:queue",
        factories.enrollment,
        [Filter("state", "eligible", {"state": "eligible"}), _program_fk()],
    ),
    Case(
        "vendor applications",
        "vendors:application-list",
        _application,
        [
            Filter("status", "rejected", {"status": "rejected"}),
            Filter("passed", "yes", {"conformance_passed": True}),
            Filter("program", lambda obj: str(obj.program_id)),
        ],
    ),
    Case(
        "events",
        "programs:event-list",
        _event,
        [
            Filter("status", "scheduled", {"status": "scheduled"}),
            Filter("kind", "charge", {"kind": "charge"}),
            Filter("test", "yes", {"is_test": True}),
            _program_fk(),
        ],
    ),
    Case(
        "payment batches",
        "settlement:batch-list",
        _batch,
        [
            Filter("status", "approved", {"status": "approved"}),
            Filter("program", lambda obj: str(obj.program_id)),
        ],
    ),
    Case(
        "customers",
        "enrollment:customer-list",
        _customer,
        [
            Filter("active", "yes", {"state": "active"}),
            Filter("program", lambda obj: str(obj.enrollments.get().program_id)),
        ],
    ),
]

FILTERS = [(case, f) for case in CASES for f in case.filters]


def ids(response) -> set[int]:
    return {obj.pk for obj in response.context["object_list"]}


@pytest.fixture
def login(client):
    def as_role(utility, role=Role.PROGRAM_MANAGER):
        client.force_login(factories.member(utility, role))
        return client

    return as_role


@pytest.mark.parametrize("role", sorted(ALL_ROLES))
@pytest.mark.parametrize("case", CASES, ids=str)
def test_renders_for_every_staff_role(case, role, utility_a, login):
    row = case.make(utility_a, "Qzrow")
    response = login(utility_a, role).get(reverse(case.url))
    assert response.status_code == 200
    assert row.pk in ids(response)
    assert 'role="search"' in response.content.decode()


@pytest.mark.parametrize("case", CASES, ids=str)
def test_empty_states_say_what_next(case, utility_a, login):
    client = login(utility_a)
    nothing = client.get(reverse(case.url)).content.decode()
    assert "yet" in nothing or "Nothing needs attention" in nothing
    case.make(utility_a, "Qzrow")
    no_match = client.get(reverse(case.url), {"q": "Nomatchzz"}).content.decode()
    assert "No " in no_match and "“Nomatchzz”" in no_match and "Clear filters" in no_match


@pytest.mark.parametrize("case", CASES, ids=str)
def test_search_narrows(case, utility_a, login):
    found = case.make(utility_a, "Qzfind")
    other = case.make(utility_a, "Xyother")
    response = login(utility_a).get(reverse(case.url), {"q": case.search(found, "Qzfind")})
    assert response.status_code == 200
    assert found.pk in ids(response) and other.pk not in ids(response)


@pytest.mark.parametrize(("case", "flt"), FILTERS, ids=lambda x: getattr(x, "param", str(x)))
def test_each_filter_narrows(case, flt, utility_a, login):
    fields = flt.fields(utility_a) if callable(flt.fields) else flt.fields
    match = case.make(utility_a, "Qzmatch", **fields)
    other = case.make(utility_a, "Xyother")
    value = flt.value(match) if callable(flt.value) else flt.value
    response = login(utility_a).get(reverse(case.url), {flt.param: value})
    assert response.status_code == 200
    assert match.pk in ids(response) and other.pk not in ids(response)
    assert f'value="{value}" selected' in response.content.decode()


@pytest.mark.parametrize(("case", "flt"), FILTERS, ids=lambda x: getattr(x, "param", str(x)))
def test_a_bad_filter_value_is_a_message_and_ignored(case, flt, utility_a, login):
    row = case.make(utility_a, "Qzrow")
    for bad in ("purple", "999999999", "-1", "x" * 300):
        response = login(utility_a).get(reverse(case.url), {flt.param: bad})
        assert response.status_code == 200
        assert "that filter is ignored" in response.content.decode()
        assert row.pk in ids(response)


def test_a_bad_search_or_page_is_not_an_error(utility_a, login):
    client = login(utility_a)
    factories.program(utility_a)
    url = reverse("programs:program-list")
    response = client.get(url, {"q": "x" * 500})
    assert response.status_code == 200 and "Search ignored: Ensure" in response.content.decode()
    for page in ("0", "abc", "99999", "-3"):
        assert client.get(url, {"page": page}).status_code == 200


@pytest.mark.parametrize("case", CASES, ids=str)
def test_paging_keeps_search_and_filters(case, utility_a, login):
    for _ in range(60):
        case.make(utility_a, "Qzpage")
    client = login(utility_a)
    term = case.search(None, "Qzpage")
    first = client.get(reverse(case.url), {"q": term})
    paginator = first.context["paginator"]
    assert paginator.count == 60 and paginator.num_pages >= 2
    assert f"q={term}&amp;page=2" in first.content.decode()
    last = client.get(reverse(case.url), {"q": term, "page": paginator.num_pages})
    assert f"Page {paginator.num_pages} of {paginator.num_pages}" in last.content.decode()
    assert 'rel="prev"' in last.content.decode()


@pytest.mark.parametrize("case", CASES, ids=str)
def test_query_count_does_not_grow_with_rows(case, utility_a, login):
    client = login(utility_a)
    for _ in range(5):
        case.make(utility_a, "Qzfew")
    with CaptureQueriesContext(connection) as few:
        assert client.get(reverse(case.url)).status_code == 200
    for _ in range(55):
        case.make(utility_a, "Qzfew")
    with CaptureQueriesContext(connection) as many:
        assert client.get(reverse(case.url)).status_code == 200
    # New rows may add filter choices (programs, vendors), never queries.
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_another_utilitys_rows_never_show(case, utility_a, utility_b, login):
    theirs = case.make(utility_a, "Alphaonly")
    mine = case.make(utility_b, "Bravoown")
    client = login(utility_b)
    response = client.get(reverse(case.url))
    assert mine.pk in ids(response) and theirs.pk not in ids(response)
    assert "Alphaonly" not in response.content.decode()
    response = client.get(reverse(case.url), {"q": "Alphaonly"})
    assert not ids(response)
    if any(flt.param == "program" for flt in case.filters):
        their_program = factories.program(utility_a, "Alphaonly")
        response = client.get(reverse(case.url), {"program": their_program.pk})
        assert response.status_code == 200
        assert "that filter is ignored" in response.content.decode()
        assert theirs.pk not in ids(response)


def test_events_are_found_by_exact_mrid(utility_a, login):
    event = factories.event(utility_a)
    other = factories.event(utility_a)
    response = login(utility_a).get(reverse("programs:event-list"), {"q": event.mrid})
    assert ids(response) == {event.pk} and other.pk not in ids(response)


def test_alerts_default_to_unresolved_and_all_statuses_stays_chosen(utility_a, login):
    open_alert = _alert(utility_a, "Qzopen")
    resolved = _alert(utility_a, "Qzdone", status="resolved")
    client = login(utility_a)
    assert ids(client.get(reverse("portal:alert-list"))) == {open_alert.pk}
    for _ in range(60):
        _alert(utility_a, "Qzmore", status="resolved")
    every = client.get(reverse("portal:alert-list"), {"status": ""})
    assert every.context["paginator"].count == 62 and resolved.pk in {
        a.pk for a in every.context["paginator"].object_list
    }
    assert "status=&amp;page=2" in every.content.decode()


def test_the_queue_carries_its_filters_to_export_and_bulk_decisions(utility_a, login):
    eligible = factories.enrollment(utility_a, "Qzel", state="eligible")
    factories.enrollment(utility_a, "Qzsub", state="submitted")
    client = login(utility_a)
    body = client.get(reverse("enrollment:queue"), {"state": "eligible"}).content.decode()
    assert 'name="next_query" value="state=eligible"' in body
    assert f"{reverse('enrollment:export')}?state=eligible" in body
    csv = client.get(reverse("enrollment:export"), {"state": "eligible"}).content.decode()
    assert "QzelMain" in csv and "QzsubMain" not in csv
    response = client.post(
        reverse("enrollment:bulk"),
        {
            "ids": [eligible.pk],
            "action": "reject",
            "reason": "test",
            "next_query": "state=eligible",
        },
    )
    assert response.status_code == 302 and response.url.endswith("?state=eligible")
    eligible.refresh_from_db()
    assert eligible.state == "rejected"


def test_htmx_requests_get_the_page_to_swap(utility_a, login):
    factories.program(utility_a, "Qzhx")
    response = login(utility_a).get(
        reverse("programs:program-list"), {"q": "Qzhx"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200 and "<main>" in response.content.decode()


@pytest.mark.parametrize(
    ("url", "current"),
    [
        ("enrollment:queue", "Enrollments"),
        ("enrollment:customer-list", "Customers"),
        ("programs:event-list", "Events"),
        ("protocol:end-device-list", "2030.5 clients"),
        ("settlement:batch-list", "Settlement"),
    ],
)
def test_new_pages_are_in_the_navigation(url, current, utility_a, login):
    body = login(utility_a).get(reverse(url)).content.decode()
    nav = body[body.index('<nav class="mainnav"') : body.index("</nav>")]
    assert nav.count('aria-current="page"') == 1
    assert f'aria-current="page">{current}</a>' in nav


@pytest.mark.parametrize("term", ["\ud7ff", "\U0010ffff", "a\U0010ffff", "%", "_", "'", "ß"])
def test_odd_search_terms_are_answered(term, utility_a, login, api_a):
    factories.device(utility_a)
    client = login(utility_a)
    assert client.get(reverse("devices:device-list"), {"q": term}).status_code == 200
    assert client.get(reverse("programs:program-list"), {"q": term}).status_code == 200
    assert api_a.get("/api/v1/devices/", {"q": term}).status_code == 200
