"""The public enrollment pages: steps, validation, drafts, rate limiting and escaping."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from enrollment.choices import EnrollmentState as S
from enrollment.models import Enrollment, EnrollmentDraft

pytestmark = pytest.mark.django_db

ADDRESS = {
    "street": "12 Alder Street",
    "city": "Portland",
    "state_code": "or",
    "zip_code": "97201",
    "account_number": "555-000-1234",
    "email": "casey@example.test",
}


def url(setup, step=None):
    base = f"/enroll/{setup.utility.slug}/{setup.program.slug}/"
    return f"{base}step/{step}/" if step else base


def battery(setup, **extra):
    return {
        "equipment": str(setup.equipment.pk),
        "serial": "NW-0001",
        "install_date": "2026-04-01",
        "has_solar": "yes",
        "solar_kw": "6.5",
        **extra,
    }


def through_step3(client, setup, address=None, batt=None):
    assert client.post(url(setup, 1), address or ADDRESS).status_code == 302
    assert client.post(url(setup, 2), batt or battery(setup)).status_code == 302
    response = client.post(url(setup, 3), {"terms_version": setup.terms.version, "accept": "on"})
    assert response.status_code == 302 and response["Location"] == url(setup, 4)


ACCOUNT = {
    "name": "Casey Customer",
    "password": "a-long-pass-phrase",
    "password_again": "a-long-pass-phrase",
}


def test_start_shows_branding_and_step_one(client, setup):
    setup.utility.brand_colour = "#0b7a75"
    setup.utility.save()
    response = client.get(url(setup), follow=True)
    assert response.redirect_chain[-1][0] == url(setup, 1)
    body = response.content.decode()
    brand_css = f"/brand/{setup.utility.slug}.css"
    assert f'href="{brand_css}"' in body and setup.utility.display_name in body
    assert "--brand-fill: #0b7a75" in client.get(brand_css).content.decode()
    assert 'name="viewport"' in body


def test_a_customer_completes_enrollment_and_is_logged_in(client, setup):
    through_step3(client, setup)
    summary = client.get(url(setup, 4)).content.decode()
    assert "5550001234" in summary and "Yes, 6.5 kW" in summary
    response = client.post(url(setup, 4), ACCOUNT)
    assert response.status_code == 302 and response["Location"] == "/my/"
    e = Enrollment.objects.get()
    assert (e.account_number, e.state_code, e.serial, e.solar_kw) == (
        "5550001234", "OR", "NW-0001", pytest.approx(6.5)
    )  # fmt: skip
    assert e.terms == setup.terms and e.state == S.ELIGIBLE
    assert e.customer.user.email == "casey@example.test"
    assert not EnrollmentDraft.objects.exists()
    my = client.get("/my/").content.decode()
    assert "Eligible" in my and "program manager will review" in my


def test_out_of_territory_address_is_told_why(client, setup):
    response = client.post(url(setup, 1), {**ADDRESS, "state_code": "TX", "zip_code": "75001"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "does not serve ZIP 75001 in TX" in body
    assert not EnrollmentDraft.objects.exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("street", "x" * 201, "at most 200 characters"),
        ("zip_code", "9720", "5-digit ZIP"),
        ("state_code", "Oregon", "at most 2 characters"),
        ("account_number", "12AB", "10 digits"),
        ("email", "not-an-email", "valid email"),
        ("city", "", "required"),
    ],
)
def test_address_fields_are_validated(client, setup, field, value, message):
    response = client.post(url(setup, 1), {**ADDRESS, field: value})
    assert response.status_code == 200
    assert message in response.content.decode()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"serial": "x"}, "serial number as printed"),
        ({"serial": "NW 1; DROP"}, "serial number as printed"),
        ({"install_date": (timezone.localdate() + timedelta(days=2)).isoformat()}, "future"),
        ({"install_date": "2001-01-01"}, "2010 or later"),
        ({"has_solar": "yes", "solar_kw": ""}, "size of your solar"),
        ({"solar_kw": "-1"}, "greater than or equal to 0.1"),
        ({"equipment": "999999"}, "Select a valid choice"),
    ],
)
def test_battery_fields_are_validated(client, setup, extra, message):
    client.post(url(setup, 1), ADDRESS)
    response = client.post(url(setup, 2), battery(setup, **extra))
    assert response.status_code == 200
    assert message in response.content.decode()


def test_steps_cannot_be_skipped(client, setup):
    response = client.get(url(setup, 3))
    assert response["Location"] == url(setup, 1)
    client.post(url(setup, 1), ADDRESS)
    assert client.get(url(setup, 4))["Location"] == url(setup, 2)


def test_terms_must_be_accepted_in_the_current_version(client, setup):
    client.post(url(setup, 1), ADDRESS)
    client.post(url(setup, 2), battery(setup))
    body = client.get(url(setup, 3)).content.decode()
    assert "version 1" in body
    response = client.post(url(setup, 3), {"terms_version": 1})
    assert "You must accept the terms" in response.content.decode()
    response = client.post(url(setup, 3), {"terms_version": 0, "accept": "on"})
    assert "The terms have changed" in response.content.decode()


def test_progress_is_kept_when_the_customer_comes_back(client, setup):
    client.post(url(setup, 1), ADDRESS)
    client.post(url(setup, 2), battery(setup))
    cookie = client.cookies[f"enroll_{setup.program.pk}"].value
    later = Client()
    later.cookies[f"enroll_{setup.program.pk}"] = cookie
    assert later.get(url(setup))["Location"] == url(setup, 3)
    step1 = later.get(url(setup, 1)).content.decode()
    assert 'value="12 Alder Street"' in step1
    # A forged cookie finds no draft.
    stranger = Client()
    stranger.cookies[f"enroll_{setup.program.pk}"] = "forged"
    assert stranger.get(url(setup))["Location"] == url(setup, 1)


def test_html_is_escaped_everywhere_it_is_shown(client, setup):
    evil = '<script>alert("x")</script>'
    response = client.post(url(setup, 1), {**ADDRESS, "street": evil, "city": evil})
    body = response.content.decode()
    assert "<script>alert" not in body
    assert "&lt;script&gt;alert" in body
    assert "Angle brackets are not allowed" in body
    # Text with quotes and ampersands goes through and is shown escaped.
    sneaky = {**ADDRESS, "street": '12 "Alder" & Co\' St', "city": "Portland"}
    through_step3(client, setup, address=sneaky)
    summary = client.get(url(setup, 4)).content.decode()
    assert "12 &quot;Alder&quot; &amp; Co&#x27; St" in summary


def test_an_email_already_registered_is_refused_and_nothing_is_created(client, setup):
    get_user_model().objects.create_user(username="casey@example.test", email="casey@example.test")
    through_step3(client, setup)
    response = client.post(url(setup, 4), ACCOUNT)
    assert response.status_code == 400
    assert "already exists" in response.content.decode()
    assert not Enrollment.objects.exists()


def test_a_second_enrollment_of_the_same_site_is_refused_with_a_message(client, setup):
    through_step3(client, setup)
    client.post(url(setup, 4), ACCOUNT)
    other = Client()
    through_step3(other, setup, address={**ADDRESS, "email": "other@example.test"},
                  batt=battery(setup, serial="NW-0002"))  # fmt: skip
    response = other.post(url(setup, 4), {**ACCOUNT, "name": "Other"})
    assert response.status_code == 400
    assert "already has an open enrollment" in response.content.decode()
    assert Enrollment.objects.count() == 1
    assert not get_user_model().objects.filter(email="other@example.test").exists()


def test_an_ineligible_battery_is_told_why_after_submitting(client, setup):
    through_step3(client, setup, batt=battery(setup, equipment=str(setup.small.pk)))
    client.post(url(setup, 4), ACCOUNT)
    body = client.get("/my/").content.decode()
    assert "Ineligible" in body
    assert "needs at least 3 kW" in body


def test_passwords_must_match_and_be_strong(client, setup):
    through_step3(client, setup)
    response = client.post(url(setup, 4), {**ACCOUNT, "password_again": "different"})
    assert "The two passwords differ" in response.content.decode()
    weak = client.post(url(setup, 4), {**ACCOUNT, "password": "123", "password_again": "123"})
    assert "too short" in weak.content.decode()
    assert not Enrollment.objects.exists()


def test_posts_are_rate_limited_per_client(client, setup, settings):
    settings.ENROLLMENT_POSTS_PER_MINUTE = 3
    for _ in range(3):
        assert client.post(url(setup, 1), ADDRESS).status_code == 302
    response = client.post(url(setup, 1), ADDRESS)
    assert response.status_code == 429
    assert "more than 3 forms in a minute" in response.content.decode()
    assert response["Retry-After"] == "60"
    assert client.get(url(setup, 1)).status_code == 200  # reading is not limited
    elsewhere = Client(REMOTE_ADDR="10.0.0.9")
    assert elsewhere.post(url(setup, 1), ADDRESS).status_code == 302


def test_unknown_draft_or_closed_program_is_404(client, setup):
    assert client.get(f"/enroll/{setup.utility.slug}/nope/").status_code == 404
    assert client.get("/enroll/nowhere/battery-savers/").status_code == 404
    setup.program.status = "draft"
    setup.program.save()
    assert client.get(url(setup, 1)).status_code == 404


def test_a_program_of_another_utility_is_not_reachable_under_this_slug(client, setup, utility_b):
    assert client.get(f"/enroll/{utility_b.slug}/{setup.program.slug}/").status_code == 404


def test_abandoned_drafts_are_pruned(client, setup):
    from enrollment import services, tasks

    client.post(url(setup, 1), ADDRESS)
    fresh = EnrollmentDraft.objects.get()
    stale = EnrollmentDraft.objects.create(utility=setup.utility, program=setup.program)
    EnrollmentDraft.objects.filter(pk=stale.pk).update(
        updated_at=timezone.now() - timedelta(days=31)
    )
    tasks.enrollment_drafts_prune()
    assert list(EnrollmentDraft.objects.all()) == [fresh]
    assert services.enrollment_drafts_prune() == 0
