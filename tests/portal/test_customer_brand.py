"""Customer pages wear the utility's brand: its colours from a same-origin stylesheet (no
inline style, so the CSP holds), its logo, its name in every title; and messages are
coloured by their level, never by the brand."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.messages import constants
from django.contrib.messages.storage.fallback import FallbackStorage
from django.core.files.base import ContentFile
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from enrollment.models import Customer
from portal.brand import brand_palette, contrast_ratio
from programs.models import Dispatch, OptOut
from settlement.models import EventResult, ReconciliationRun, SettlementRules
from tests import factories

pytestmark = pytest.mark.django_db

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81"
    b"\x84\x00\x00\x00\x00IEND\xaeB`\x82"
)


def _customer(utility, **fields):
    person = factories.user()
    customer = Customer.objects.create(utility=utility, user=person, name="Casey")
    enrollment = factories.enrollment(utility, customer=customer, state="active", **fields)
    return person, customer, enrollment


def test_brand_stylesheet_carries_the_utility_colour(client, utility_a):
    utility_a.brand_colour = "#0B7A75"
    utility_a.save()
    response = client.get(reverse("portal:brand-css", args=[utility_a.slug]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    body = response.content.decode()
    assert "--brand-fill: #0b7a75" in body
    etag = response["ETag"]
    again = client.get(
        reverse("portal:brand-css", args=[utility_a.slug]), headers={"if-none-match": etag}
    )
    assert again.status_code == 304


def test_unknown_utility_has_no_brand(client, db):
    assert client.get(reverse("portal:brand-css", args=["nobody"])).status_code == 404
    assert client.get(reverse("portal:brand-logo", args=["nobody"])).status_code == 404


@pytest.mark.parametrize("colour", ["#ffee00", "#1f6feb", "#0b7a75", "#ffffff", "#000000"])
def test_palette_is_readable_whatever_the_brand(colour):
    p = brand_palette(colour)
    # Links and buttons use --brand on white and white on --brand: both pass WCAG AA.
    assert contrast_ratio(p["brand_ink"], "#f6f8fa") >= 4.5
    assert contrast_ratio(p["brand"], p["on_brand"]) >= 4.5 or p["on_brand"] == "#1d232b"
    assert contrast_ratio(p["brand"], p["on_brand"]) >= 3.0


def test_logo_served_only_when_set_and_only_as_an_image(client, utility_a, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    url = reverse("portal:brand-logo", args=[utility_a.slug])
    assert client.get(url).status_code == 404
    utility_a.logo.save("alpha.png", ContentFile(PNG))
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == PNG


def test_customer_home_is_branded_and_titled(client, utility_a, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    utility_a.brand_name = "Alpha Energy"
    utility_a.logo.save("alpha.png", ContentFile(PNG))
    person, _, _ = _customer(utility_a)
    client.force_login(person)
    html = client.get(reverse("enrollment:my")).content.decode()
    assert "<title>My enrollments · Alpha Energy</title>" in html
    assert reverse("portal:brand-css", args=["alpha"]) in html
    assert f'src="{reverse("portal:brand-logo", args=["alpha"])}"' in html
    # The customer's navigation: their own pages only, no staff, vendor or API links.
    assert reverse("vendors:vendor-home") not in html
    assert reverse("api-docs") not in html
    assert 'style="' not in html and "<style" not in html


def test_a_customer_lands_on_their_branded_pages_not_the_generic_home(client, utility_a):
    person, _, _ = _customer(utility_a)
    client.force_login(person)
    response = client.get(reverse("portal:home"))
    assert response.status_code == 302 and response["Location"] == reverse("enrollment:my")
    # Their navigation names that page, and no generic "Home" beside it.
    html = client.get(reverse("enrollment:my")).content.decode()
    assert f'href="{reverse("portal:home")}"' not in html.split("<main", 1)[0].split("<nav", 1)[1]


def test_success_message_is_marked_as_done_not_as_an_error(utility_a):
    from django.template.loader import render_to_string

    request = RequestFactory().get("/")
    request.session = {}
    storage = FallbackStorage(request)
    storage.add(constants.SUCCESS, "You opted out.")
    storage.add(constants.ERROR, "Too late.")
    html = render_to_string("_messages.html", {"messages": storage})
    assert '<li class="message success" role="status">' in html
    assert '<li class="message error" role="alert">' in html
    assert "Done:</span> You opted out." in html
    assert "Not done:</span> Too late." in html


def _finished_event(utility, program, device, *, energy_wh, counted=True, flags=()):
    group = factories.dispatch_group(utility, prog=program)
    event = factories.event(
        utility, group=group, status="completed", start=timezone.now() - timedelta(days=2)
    )
    Dispatch.objects.create(utility=utility, event=event, device=device, setpoint_w=5000)
    run = ReconciliationRun.objects.create(
        utility=utility, event=event, version=1, baseline_method="battery_telemetry",
        inputs={}, inputs_digest="x", created_at=timezone.now(),
    )  # fmt: skip
    EventResult.objects.create(
        utility=utility, run=run, device=device, window_s=3600, committed_w=5000,
        measured_w=energy_wh, baseline_w=0.0, delivered_w=energy_wh, energy_wh=energy_wh,
        performance_factor=Decimal(str(energy_wh / 5000)), coverage=1.0, counted=counted,
        flags=list(flags),
    )  # fmt: skip
    return event


def test_past_events_show_delivery_and_earnings_for_own_battery_only(client, utility_a):
    device = factories.device(utility_a)
    person, _, enrollment = _customer(utility_a, device=device)
    SettlementRules.objects.create(
        utility=utility_a, program=enrollment.program, kwh_rate=Decimal("0.50")
    )
    paid = _finished_event(utility_a, enrollment.program, device, energy_wh=4000.0)
    opted = _finished_event(
        utility_a, enrollment.program, device, energy_wh=0.0, counted=False, flags=["opt_out"]
    )
    OptOut.objects.create(
        utility=utility_a, event=opted, device=device, source="portal", at=timezone.now()
    )
    # Someone else's battery in the same program: never on this customer's page.
    other = factories.device(utility_a)
    _customer(utility_a, device=other, program=enrollment.program)
    theirs = _finished_event(utility_a, enrollment.program, other, energy_wh=9999.0)

    client.force_login(person)
    response = client.get(reverse("portal:my-events"))
    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="past-event-{paid.pk}"' in html
    assert "4.00 kW" in html and "4.00 kWh" in html and "$2.00" in html  # 4 kWh x $0.50
    assert "Not counted: opted out." in html
    assert f'id="past-event-{theirs.pk}"' not in html and "9.9" not in html
    assert "<title>Past events · Alpha Power</title>" in html


def test_past_events_need_a_customer_account(client_a):
    assert client_a.get(reverse("portal:my-events")).status_code == 404
