"""The manager's review queue: filters, bulk decisions (fail closed), detail, CSV, funnel,
and the whitelist import."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from enrollment import services
from enrollment.choices import EnrollmentState as S
from enrollment.models import AccountWhitelist, Enrollment
from tenancy.choices import Role
from tests import factories
from tests.conftest import api_client_for
from tests.enrollment.conftest import make_setup, submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def other(utility_b):
    return make_setup(utility_b, slug="bravo-savers")


@pytest.fixture
def manager_client(client, setup):
    client.force_login(setup.manager)
    return client


def test_queue_filters_searches_and_paginates(manager_client, setup):
    good = submit(setup, street="1 Queue Street")
    bad = submit(setup, street="2 Queue Street", state_code="TX", zip_code="75001")
    body = manager_client.get("/enrollments/?state=eligible").content.decode()
    assert "1 Queue Street" in body and "2 Queue Street" not in body
    body = manager_client.get("/enrollments/?eligibility=failed").content.decode()
    assert "2 Queue Street" in body and "1 Queue Street" not in body
    body = manager_client.get(f"/enrollments/?q={good.serial}").content.decode()
    assert "1 Queue Street" in body and "2 Queue Street" not in body
    body = manager_client.get(f"/enrollments/?q={bad.pk}").content.decode()
    assert "2 Queue Street" in body
    for n in range(30):
        submit(setup, street=f"{n} Page Street")
    page2 = manager_client.get("/enrollments/?page=2")
    assert page2.status_code == 200 and "Page 2 of 2" in page2.content.decode()


def test_bulk_approve_ignores_ids_of_another_utility(manager_client, setup, other):
    mine = [submit(setup), submit(setup)]
    theirs = submit(other)
    response = manager_client.post(
        "/enrollments/bulk/",
        {"ids": [e.pk for e in mine] + [theirs.pk], "action": "approve", "reason": ""},
    )
    assert response.status_code == 302
    assert set(
        Enrollment.objects.filter(pk__in=[e.pk for e in mine]).values_list("state", flat=True)
    ) == {S.APPROVED}
    theirs.refresh_from_db()
    assert theirs.state == S.ELIGIBLE and theirs.transitions.count() == 2


def test_bulk_reject_needs_a_reason_and_reports_skips(manager_client, setup):
    eligible = submit(setup)
    approved = services.enrollment_approve(enrollment=submit(setup), actor=setup.manager)
    response = manager_client.post(
        "/enrollments/bulk/", {"ids": [eligible.pk], "action": "reject", "reason": ""}
    )
    eligible.refresh_from_db()
    assert eligible.state == S.ELIGIBLE
    response = manager_client.post(
        "/enrollments/bulk/",
        {"ids": [eligible.pk, approved.pk], "action": "reject", "reason": "Permit missing"},
        follow=True,
    )
    body = response.content.decode()
    assert "Rejected 1 enrollment" in body and f"#{approved.pk} skipped" in body
    eligible.refresh_from_db()
    assert eligible.state == S.REJECTED and eligible.state_reason == "Permit missing"


def test_analysts_and_operators_cannot_decide(client, setup):
    e = submit(setup)
    for role in (Role.ANALYST, Role.OPERATOR):
        client.force_login(factories.member(setup.utility, role))
        assert client.get("/enrollments/").status_code == 200
        response = client.post("/enrollments/bulk/", {"ids": [e.pk], "action": "approve"})
        assert response.status_code == 403
        assert client.post(f"/enrollments/{e.pk}/decide/", {"action": "approve"}).status_code == 403
    e.refresh_from_db()
    assert e.state == S.ELIGIBLE


def test_detail_shows_every_decision_fact_and_flags_stale_telemetry(manager_client, setup):
    from django.utils import timezone

    device = factories.device(
        setup.utility,
        vendor_name="Northwind",
        serial="NW-STALE",
        soc_pct=50,
        power_w=100,
        last_heard_at=timezone.now() - timezone.timedelta(days=3),
    )
    e = services.enrollment_approve(
        enrollment=submit(setup, serial="NW-STALE", street='<b>9 "Bold" St</b>'),
        actor=setup.manager,
    )
    assert e.state == S.DEVICE_LINKED and e.device == device
    body = manager_client.get(f"/enrollments/{e.pk}/").content.decode()
    for fact in (
        "Device linked",
        "In the service territory",
        "pass",
        "$750.00",
        "stale",
        "NW-STALE",
        "version 1",
    ):
        assert fact in body, fact
    assert "<b>9" not in body and "&lt;b&gt;9 &quot;Bold&quot; St&lt;/b&gt;" in body


def test_decide_from_the_detail_page(manager_client, setup):
    e = submit(setup)
    manager_client.post(f"/enrollments/{e.pk}/decide/", {"action": "reject", "reason": "Dup"})
    e.refresh_from_db()
    assert e.state == S.REJECTED
    # An illegal step is refused with a message and changes nothing.
    response = manager_client.post(
        f"/enrollments/{e.pk}/decide/", {"action": "approve"}, follow=True
    )
    assert "cannot become approved" in response.content.decode()


def test_detail_and_decide_of_another_utility_are_404(manager_client, setup, other):
    theirs = submit(other)
    assert manager_client.get(f"/enrollments/{theirs.pk}/").status_code == 404
    response = manager_client.post(f"/enrollments/{theirs.pk}/decide/", {"action": "approve"})
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.state == S.ELIGIBLE


def test_csv_export_is_scoped_filtered_and_formula_safe(manager_client, setup, other):
    submit(setup, street="=HYPERLINK(1) Street")
    submit(setup, street="Plain Street", state_code="TX", zip_code="75001")
    submit(other, street="Bravo Street")
    response = manager_client.get("/enrollments/export.csv?state=eligible")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][0] == "id" and len(rows) == 2
    assert rows[1][5] == "'=HYPERLINK(1) Street"
    assert "Bravo" not in response.content.decode()


def test_funnel_counts_each_stage(manager_client, setup):
    submit(setup)
    services.enrollment_approve(enrollment=submit(setup), actor=setup.manager)
    submit(setup, state_code="TX", zip_code="75001")
    from enrollment.selectors import enrollment_funnel

    funnel = {s.state: s.count for s in enrollment_funnel(utility=setup.utility)}
    assert funnel[S.SUBMITTED] == 3 and funnel[S.ELIGIBLE] == 2 and funnel[S.APPROVED] == 1
    assert funnel[S.ACTIVE] == 0
    body = manager_client.get("/enrollments/funnel/").content.decode()
    assert "Submitted</strong>: 3" in body and "Approved</strong>: 1" in body


def upload(client, text, url="/enrollments/whitelist/"):
    return client.post(url, {"file": SimpleUploadedFile("accounts.csv", text.encode())})


def test_whitelist_import_writes_every_row(manager_client, setup):
    text = (
        "account_number,program,excluded,preapproved,exclusion_reason\n"
        f"5550001111,{setup.program.slug},no,yes,\n"
        "5550002222,,yes,no,Past due\n"
    )
    response = upload(manager_client, text)
    assert response.status_code == 302
    rows = {w.account_number: w for w in AccountWhitelist.objects.for_utility(setup.utility)}
    assert rows["5550001111"].preapproved and rows["5550001111"].program == setup.program
    assert rows["5550002222"].excluded and rows["5550002222"].program is None
    # Re-importing updates rather than duplicating.
    assert upload(manager_client, text).status_code == 302
    assert AccountWhitelist.objects.count() == 2


def test_whitelist_import_reports_bad_rows_and_imports_nothing(manager_client, setup):
    text = (
        "account_number,program,excluded\n"
        "5550001111,,no\n"
        ",,no\n"
        "5550003333,no-such-program,no\n"
        "5550004444,,maybe\n"
        f"12,{setup.program.slug},no\n"
        "5550001111,,no\n"
    )
    response = upload(manager_client, text)
    assert response.status_code == 400
    body = response.content.decode()
    for expected in (
        "Row 3: account_number is empty",
        "Row 4: no program &#x27;no-such-program&#x27;",
        "Row 5: excluded must be yes or no",
        "Row 6: account_number 12 is not in",
        "Row 7: account_number 5550001111 appears twice",
    ):
        assert expected in body, expected
    assert "Row 2" not in body
    assert not AccountWhitelist.objects.exists()


def test_whitelist_import_rejects_bad_headers_and_binary(manager_client, setup):
    assert "header must include" in upload(manager_client, "acct\n1\n").content.decode()
    assert "unknown columns" in upload(manager_client, "account_number,x\n1,2\n").content.decode()
    response = manager_client.post(
        "/enrollments/whitelist/", {"file": SimpleUploadedFile("a.csv", b"\xff\xfe\x00bad")}
    )
    assert "not UTF-8" in response.content.decode()
    assert not AccountWhitelist.objects.exists()


# --- API ---------------------------------------------------------------------------------


def test_api_lists_filters_and_details_only_this_utility(setup, other):
    mine = submit(setup)
    submit(setup, state_code="TX", zip_code="75001")
    theirs = submit(other)
    api = api_client_for(setup.manager)
    listing = api.get("/api/v1/enrollments/").json()
    ids = (
        [row["id"] for row in listing["results"]]
        if "results" in listing
        else [row["id"] for row in listing]
    )
    assert mine.pk in ids and theirs.pk not in ids and len(ids) == 2
    eligible = api.get("/api/v1/enrollments/?state=eligible").json()
    rows = eligible["results"] if "results" in eligible else eligible
    assert [r["id"] for r in rows] == [mine.pk]
    failed = api.get("/api/v1/enrollments/?eligibility=failed").json()
    rows = failed["results"] if "results" in failed else failed
    assert mine.pk not in [r["id"] for r in rows]
    detail = api.get(f"/api/v1/enrollments/{mine.pk}/").json()
    assert detail["state"] == "eligible" and len(detail["eligibility"]) == 10
    assert api.get(f"/api/v1/enrollments/{theirs.pk}/").status_code == 404


def test_api_approve_reject_and_bulk(setup, other):
    a, b, c = submit(setup), submit(setup), submit(setup)
    theirs = submit(other)
    api = api_client_for(setup.manager)
    response = api.post(f"/api/v1/enrollments/{a.pk}/approve/", {}, format="json")
    assert response.status_code == 200 and response.json()["incentive_upfront"] == "750.00"
    again = api.post(f"/api/v1/enrollments/{a.pk}/approve/", {}, format="json")
    assert again.status_code == 409
    assert api.post(f"/api/v1/enrollments/{b.pk}/reject/", {}, format="json").status_code == 409
    response = api.post(f"/api/v1/enrollments/{b.pk}/reject/", {"reason": "No"}, format="json")
    assert response.json()["state"] == "rejected"
    assert (
        api.post(f"/api/v1/enrollments/{theirs.pk}/approve/", {}, format="json").status_code == 404
    )
    response = api.post(
        "/api/v1/enrollments/bulk/",
        {"ids": [c.pk, theirs.pk, a.pk], "action": "approve"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["done"] == [c.pk]
    assert list(response.json()["skipped"]) == [str(a.pk)]
    theirs.refresh_from_db()
    assert theirs.state == S.ELIGIBLE


def test_api_analysts_read_but_cannot_write(setup):
    e = submit(setup)
    api = api_client_for(factories.member(setup.utility, Role.ANALYST))
    assert api.get(f"/api/v1/enrollments/{e.pk}/").status_code == 200
    assert api.post(f"/api/v1/enrollments/{e.pk}/approve/", {}, format="json").status_code == 403
    response = api.post(
        "/api/v1/enrollments/import-accounts/",
        {"file": SimpleUploadedFile("a.csv", b"account_number\n5550009999\n")},
        format="multipart",
    )
    assert response.status_code == 403
    assert not AccountWhitelist.objects.exists()


def test_api_import_accounts(setup, utility_b):
    api = api_client_for(setup.manager)
    bad = api.post(
        "/api/v1/enrollments/import-accounts/",
        {"file": SimpleUploadedFile("a.csv", b"account_number\n5550009999\n,\n")},
        format="multipart",
    )
    assert bad.status_code == 400 and bad.json()["errors"] == ["Row 3: account_number is empty."]
    assert not AccountWhitelist.objects.exists()
    ok = api.post(
        "/api/v1/enrollments/import-accounts/",
        {"file": SimpleUploadedFile("a.csv", b"account_number\n5550009999\n")},
        format="multipart",
    )
    assert ok.json() == {"created": 1, "updated": 0}
    assert AccountWhitelist.objects.get().utility == setup.utility


@pytest.mark.parametrize(
    "body",
    [
        {"ids": [2**70], "action": "approve"},
        {"ids": [9223372036854775807], "action": "approve"},
        {"ids": [1], "action": "reject", "reason": "\x00"},
        {"ids": [], "action": "approve", "reason": None},
        {"ids": ["x"], "action": "nope"},
    ],
)
def test_api_bulk_refuses_garbage_without_a_server_error(setup, body):
    api = api_client_for(setup.manager)
    response = api.post("/api/v1/enrollments/bulk/", body, format="json")
    assert response.status_code in (200, 400), response.content


def test_html_bulk_and_customer_posts_refuse_absurd_ids(manager_client, setup):
    e = submit(setup)
    response = manager_client.post(
        "/enrollments/bulk/", {"ids": [str(2**70), e.pk], "action": "approve"}
    )
    assert response.status_code == 302
    e.refresh_from_db()
    assert e.state == S.ELIGIBLE  # the whole form is refused, nothing half-done
    assert manager_client.get(f"/enrollments/?q={2**70}&program={2**70}").status_code == 200
