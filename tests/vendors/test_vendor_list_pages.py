"""The vendor-side list pages on the shared list pattern: the platform's vendor organisations
(staff only) and a vendor's own team and contacts (its organisation only). The utility-tenancy
table in test_list_pages.py does not fit them: their tenant is a vendor organisation."""

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests import factories
from vendors.models import VendorContact, VendorMembership

pytestmark = pytest.mark.django_db


def _organisation(org, marker, **fields):
    # The platform page lists organisations: ``org`` (the viewer's) is not used.
    return factories.vendor_organization(marker, **fields)


_seq = iter(range(10**6))


def _member(org, marker, **fields):
    email = f"{marker.lower()}{next(_seq)}@example.test"
    person = factories.vendor_member(org, fields.pop("role", "engineer"), email=email)
    return VendorMembership.objects.get(organization=org, user=person)


def _contact(org, marker, **fields):
    n = next(_seq)
    defaults = {"name": f"{marker} Person {n}", "email": f"c{n}@example.test"}
    return VendorContact.objects.create(organization=org, **{**defaults, **fields})


@dataclass
class Case:
    name: str
    url: str
    make: Callable  # (organisation, marker, **fields) -> the row the page lists
    filters: list[tuple[str, str, dict]] = field(default_factory=list)
    platform: bool = False  # staff page over every organisation

    def __str__(self):
        return self.name


CASES = [
    Case(
        "vendor organisations",
        "vendors:platform-vendors",
        _organisation,
        [
            ("status", "pending", {"status": "pending"}),
            ("kind", "aggregator", {"kind": "aggregator"}),
        ],
        platform=True,
    ),
    Case("vendor team", "vendors:vendor-team", _member, [("role", "viewer", {"role": "viewer"})]),
    Case(
        "vendor contacts",
        "vendors:vendor-contacts",
        _contact,
        [("kind", "security", {"kind": "security"})],
    ),
]
FILTERS = [(case, f) for case in CASES for f in case.filters]


def ids(response) -> set[int]:
    return {obj.pk for obj in response.context["object_list"]}


@pytest.fixture
def org():
    return factories.vendor_organization("Home")


@pytest.fixture
def viewer(client, org):
    """Signs in whoever the case's page is for: platform staff, or an admin of ``org``."""

    def sign_in(case, organisation=None):
        if case.platform:
            person = factories.user(is_staff=True)
        else:
            person = factories.vendor_member(organisation or org, "admin")
        client.force_login(person)
        return client

    return sign_in


@pytest.mark.parametrize("case", CASES, ids=str)
def test_search_narrows_and_empty_search_says_so(case, org, viewer):
    found = case.make(org, "Qzfind")
    other = case.make(org, "Xyother")
    client = viewer(case)
    response = client.get(reverse(case.url), {"q": "Qzfind"})
    assert response.status_code == 200
    assert found.pk in ids(response) and other.pk not in ids(response)
    body = client.get(reverse(case.url), {"q": "Nomatchzz"}).content.decode()
    assert "“Nomatchzz”" in body and "Clear filters" in body


@pytest.mark.parametrize(
    ("case", "flt"), FILTERS, ids=lambda x: x[0] if isinstance(x, tuple) else str(x)
)
def test_each_filter_narrows_and_a_bad_value_is_ignored(case, flt, org, viewer):
    param, value, fields = flt
    match = case.make(org, "Qzmatch", **fields)
    other = case.make(org, "Xyother")
    client = viewer(case)
    response = client.get(reverse(case.url), {param: value})
    assert match.pk in ids(response) and other.pk not in ids(response)
    assert f'value="{value}" selected' in response.content.decode()
    response = client.get(reverse(case.url), {param: "purple"})
    assert response.status_code == 200
    assert "that filter is ignored" in response.content.decode()
    assert {match.pk, other.pk} <= ids(response)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_paging_keeps_the_search(case, org, viewer):
    for _ in range(60):
        case.make(org, "Qzpage")
    client = viewer(case)
    first = client.get(reverse(case.url), {"q": "Qzpage"})
    assert first.context["paginator"].count == 60
    assert "q=Qzpage&amp;page=2" in first.content.decode()
    last = client.get(reverse(case.url), {"q": "Qzpage", "page": 2})
    assert len(ids(last)) == 10 and 'rel="prev"' in last.content.decode()


@pytest.mark.parametrize("case", CASES, ids=str)
def test_query_count_does_not_grow_with_rows(case, org, viewer, utility_a):
    client = viewer(case)

    def make():
        row = case.make(org, "Qzfew")
        if case.platform:  # what the page counts per organisation
            factories.vendor_member(row)
            factories.vendor_application(utility_a, organization=row)
        return row

    for _ in range(5):
        make()
    with CaptureQueriesContext(connection) as few:
        assert client.get(reverse(case.url)).status_code == 200
    for _ in range(55):
        make()
    with CaptureQueriesContext(connection) as many:
        assert client.get(reverse(case.url)).status_code == 200
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


@pytest.mark.parametrize("case", [c for c in CASES if not c.platform], ids=str)
def test_another_organisations_rows_never_show(case, org, viewer):
    theirs_org = factories.vendor_organization("Other")
    theirs = case.make(theirs_org, "Alphaonly")
    mine = case.make(org, "Bravoown")
    client = viewer(case)
    response = client.get(reverse(case.url))
    assert mine.pk in ids(response) and theirs.pk not in ids(response)
    assert "Alphaonly" not in response.content.decode()
    assert not ids(client.get(reverse(case.url), {"q": "Alphaonly"}))


def test_the_platform_page_stays_staff_only(client, org):
    client.force_login(factories.vendor_member(org, "admin"))
    assert client.get(reverse("vendors:platform-vendors"), {"q": "Home"}).status_code == 403


def test_operators_find_an_organisation_by_a_members_email_and_its_counts_stay_whole(viewer):
    org = factories.vendor_organization("Acme")
    factories.vendor_member(org, "admin", email="ops@acme-batteries.test")
    factories.vendor_member(org, "viewer", email="someone@acme-batteries.test")
    other = factories.vendor_organization("Other")
    response = viewer(CASES[0]).get(reverse("vendors:platform-vendors"), {"q": "ops@acme"})
    (row,) = response.context["object_list"]
    assert row.pk == org.pk and other.pk not in ids(response)
    assert row.n_members == 2  # the match did not narrow the count
