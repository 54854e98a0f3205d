"""The portal's site envelope page: a program's envelopes listed by NMI, searched by NMI,
charted for one NMI; the program form sets the site envelope primacy."""

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from programs.services import site_envelope_cancel
from tenancy.choices import Role
from tests import factories

pytestmark = pytest.mark.django_db

START = datetime(2026, 7, 1, 4, 0, tzinfo=UTC)


@pytest.fixture
def program(utility):
    return factories.program(utility, profile="csip_aus", site_envelope_primacy=1)


def chart_of(response) -> dict:
    found = re.search(
        r'<script id="envelope-chart-data"[^>]*>(.*?)</script>', response.content.decode()
    )
    assert found, "the page carries the chart's data"
    return json.loads(found.group(1))


def test_the_page_lists_searches_and_charts_one_nmi(client, utility, program):
    client.force_login(factories.member(utility, Role.ANALYST))
    for i, nmi in enumerate(("4102000001", "4102000001", "QB01234567")):
        factories.site_envelope(
            utility,
            program=program,
            connection_point_id=nmi,
            start=START + timedelta(hours=i),
            op_mod_exp_lim_w=1000 + i,
        )
    cancelled = factories.site_envelope(
        utility, program=program, start=START + timedelta(hours=5), op_mod_imp_lim_w=99
    )
    site_envelope_cancel(envelope=cancelled)
    url = reverse("programs:site-envelope-list", args=[program.pk])
    everything = client.get(url)
    assert everything.status_code == 200
    assert everything.content.decode().count("<tr>") == 1 + 4  # the head, every envelope
    assert b"envelope-chart-data" not in everything.content  # no NMI chosen

    one = client.get(url, {"q": "4102000001"})
    assert b"QB01234567" not in one.content and b"Cancelled" in one.content
    chart = chart_of(one)
    # Two envelopes, each flat over its interval then a gap; the cancelled one left out.
    start = int(START.timestamp())
    hour = start + 3600
    assert chart["times"] == [start, start + 1800, start + 1801, hour, hour + 1800, hour + 1801]
    assert chart["series"] == [
        {"label": "Export limit (W)", "values": [1000, 1000, None, 1001, 1001, None]}
    ]
    # The program page links it.
    detail = client.get(reverse("programs:program-detail", args=[program.pk]))
    assert url.encode() in detail.content


def test_another_utilitys_program_is_404(client, utility):
    client.force_login(factories.member(utility, Role.PROGRAM_MANAGER))
    foreign = factories.site_envelope(factories.utility())
    url = reverse("programs:site-envelope-list", args=[foreign.program_id])
    assert client.get(url).status_code == 404


FORM = {
    "name": "Network envelopes",
    "slug": "network-envelopes",
    "status": "draft",
    "primacy": 10,
    "poll_rate_s": 300,
    "post_rate_s": 300,
    "telemetry_cadence_s": 300,
    "control_delivery_s": 300,
    "min_stored_events": 24,
    "min_duration_min": 5,
    "max_duration_min": 240,
    "allowed_weekdays": ["0", "1", "2", "3", "4"],
    "min_notice_min": 0,
    "min_rest_min": 0,
    "reserve_soc_pct": 20,
}


def test_the_program_form_sets_the_site_envelope_primacy_for_csip_aus_only(client, utility):
    client.force_login(factories.member(utility, Role.PROGRAM_MANAGER))
    url = reverse("programs:program-create")
    refused = client.post(url, {**FORM, "profile": "csip", "site_envelope_primacy": 1})
    assert refused.status_code == 200
    assert "Site envelopes are a CSIP-AUS DERProgram" in refused.content.decode()
    assert not utility.programs.exists()
    made = client.post(url, {**FORM, "profile": "csip_aus", "site_envelope_primacy": 1})
    assert made.status_code == 302, made.content.decode()[:2000]
    assert utility.programs.get().site_envelope_primacy == 1
