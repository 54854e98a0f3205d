"""Every download checks the requester's utility and role: IDs enumerated across tenants and
roles answer 404 (or the login page), with no file name or content in the answer."""

import re

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from settlement.models import CustomerPayment
from tenancy.choices import Role
from tests import factories
from tests.conftest import api_client_for

pytestmark = pytest.mark.django_db

# (route name, kind of object, roles of the owning utility allowed to fetch it)
PII = {Role.PROGRAM_MANAGER, Role.ANALYST}
STAFF = set(Role)
UTILITY_DOWNLOADS = [
    ("settlement:batch-csv", "batch", PII),
    ("vendors:run-report", "run", STAFF),
    ("vendors:run-report-html", "run", STAFF),
]
VENDOR_DOWNLOADS = ["vendors:vendor-run-report", "vendors:vendor-run-report-html"]


def _tenant(name, slug, marker):
    utility = factories.utility(name, slug=slug)
    batch = factories.payment_batch(utility, marker)
    payment = factories.customer_payment(utility, marker)
    CustomerPayment.objects.filter(pk=payment.pk).update(batch=batch)
    run = factories.conformance_run(utility, marker)
    enrollment = factories.enrollment(utility, marker, street=f"{marker} Secret Street")
    people = {role: factories.member(utility, role) for role in Role}
    vendor = factories.vendor_member(run.application.organization)
    return {
        "utility": utility,
        "batch": batch,
        "run": run,
        "enrollment": enrollment,
        "people": people,
        "vendor": vendor,
        "customer": factories.customer(utility, marker).user,
        "secrets": [marker, payment.account_number, f"{marker} Secret Street"],
    }


@pytest.fixture
def world():
    return {
        "a": _tenant("Alpha Power", "alpha", "ALPHAMARK"),
        "b": _tenant("Bravo", "bravo", "BRAVOMARK"),
    }


def _requesters(world):
    for side in ("a", "b"):
        t = world[side]
        for role, person in t["people"].items():
            yield f"{side}:{role}", person, side, role
        yield f"{side}:vendor", t["vendor"], side, "vendor"
        yield f"{side}:customer", t["customer"], side, "customer"
    yield "platform-operator-without-membership", factories.user(is_staff=True), None, None
    yield "anonymous", None, None, None


def _no_leak(response, world, label):
    assert "Content-Disposition" not in response, label
    body = response.content.decode(errors="replace")
    assert not re.search(r"payments-\d+|conformance-run-\d+|enrollments-\d+", body), label
    for side in ("a", "b"):
        for secret in world[side]["secrets"]:
            assert secret not in body, (label, secret)


def test_every_download_id_across_tenants_and_roles(world):
    top = {
        "batch": max(world[s]["batch"].pk for s in "ab") + 2,
        "run": max(world[s]["run"].pk for s in "ab") + 2,
    }
    owner = {kind: {world[s][kind].pk: s for s in "ab"} for kind in ("batch", "run")}
    checked = 0
    for label, person, side, role in _requesters(world):
        client = Client()
        if person is not None:
            client.force_login(person)
        for name, kind, allowed in UTILITY_DOWNLOADS:
            for pk in range(1, top[kind] + 1):
                response = client.get(reverse(name, args=[pk]))
                checked += 1
                mine = owner[kind].get(pk) == side and role in allowed
                if mine:
                    assert response.status_code == 200, (label, name, pk)
                    assert "attachment" in response["Content-Disposition"]
                    continue
                expected = 302 if person is None else 404
                assert response.status_code == expected, (label, name, pk, response.status_code)
                _no_leak(response, world, (label, name, pk))
        for name in VENDOR_DOWNLOADS:
            for pk in range(1, top["run"] + 1):
                response = client.get(reverse(name, args=[pk]))
                checked += 1
                if role == "vendor" and owner["run"].get(pk) == side:
                    assert response.status_code == 200, (label, name, pk)
                    continue
                expected = 302 if person is None else 404
                assert response.status_code == expected, (label, name, pk, response.status_code)
                _no_leak(response, world, (label, name, pk))
        export = client.get(reverse("enrollment:export"))
        checked += 1
        if role in PII:
            assert export.status_code == 200, label
            body = export.content.decode()
            assert f"{'ALPHAMARK' if side == 'a' else 'BRAVOMARK'} Secret Street" in body
            other = "b" if side == "a" else "a"
            for secret in world[other]["secrets"]:
                assert secret not in body, (label, secret)
        else:
            assert export.status_code == (302 if person is None else 404), (label, export)
            _no_leak(export, world, (label, "export"))
    assert checked > 150


def test_the_vendor_report_api_answers_only_the_owning_organisation(world):
    for side, other in (("a", "b"), ("b", "a")):
        api = api_client_for(world[side]["vendor"])
        mine = api.get(f"/api/v1/vendor/runs/{world[side]['run'].pk}/report/")
        assert mine.status_code == 200
        theirs = api.get(f"/api/v1/vendor/runs/{world[other]['run'].pk}/report/")
        assert theirs.status_code == 404
        _no_leak(theirs, world, side)
    assert APIClient().get(f"/api/v1/vendor/runs/{world['a']['run'].pk}/report/").status_code in (
        401,
        403,
    )


def test_a_server_generated_private_key_is_shown_once_and_never_again(client, world):
    from vendors.models import VendorApplication

    application = world["a"]["run"].application
    vendor = world["a"]["vendor"]
    client.force_login(vendor)
    issued = client.post(
        reverse("vendors:vendor-certificate", args=[application.pk]), {"kind": "aggregator"}
    )
    assert issued.status_code == 200
    assert issued["Cache-Control"] == "no-store"
    key = re.search(
        r"-----BEGIN (?:EC )?PRIVATE KEY-----(.*?)-----END", issued.content.decode(), re.S
    )
    assert key, "the key is shown once, on the issue page"
    key_body = "".join(key.group(1).split())[:64]
    # Nothing stores it: no text column of any table holds it.
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            description = connection.introspection.get_table_description(cursor, table)
            for column in description:
                cursor.execute(f'SELECT "{column.name}" FROM "{table}"')  # noqa: S608
                for (value,) in cursor.fetchall():
                    if isinstance(value, str):
                        flat = "".join(value.split())
                        assert key_body not in flat, (table, column.name)
                        assert "PRIVATEKEY" not in flat, (table, column.name)
    # No page a vendor, the utility or an operator can open shows it again.
    manager = world["a"]["people"][Role.PROGRAM_MANAGER]
    operator = factories.user(is_staff=True, is_superuser=True)
    pages = {
        vendor: [
            reverse("vendors:vendor-application", args=[application.pk]),
            reverse("vendors:vendor-home"),
            reverse("vendors:vendor-run-report", args=[world["a"]["run"].pk]),
        ],
        manager: [
            reverse("vendors:application-detail", args=[application.pk]),
            reverse("vendors:run-report", args=[world["a"]["run"].pk]),
        ],
        operator: [
            f"/admin/vendors/issuedcertificate/{application.certificates.first().pk}/change/",
            "/admin/vendors/certificateauthority/",
        ],
    }
    assert VendorApplication.objects.filter(pk=application.pk).exists()
    for person, urls in pages.items():
        viewer = Client()
        viewer.force_login(person)
        for url in urls:
            page = viewer.get(url)
            assert page.status_code == 200, url
            flat = "".join(page.content.decode().split())
            assert key_body not in flat, url
            assert "PRIVATEKEY" not in flat, url
