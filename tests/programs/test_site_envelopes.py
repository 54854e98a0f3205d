"""Site envelopes (CSIP-AUS dynamic operating envelopes): the domain's rules and
/api/v1/programs/{id}/site-envelopes/, all or nothing, within the caller's utility."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError

from programs import services
from programs.models import SiteEnvelope
from tenancy.choices import Role
from tests import factories
from tests.conftest import api_client_for

pytestmark = pytest.mark.django_db

START = datetime(2026, 7, 1, 4, 0, tzinfo=UTC)
NMI = "4102000001"
NMI_WITH_CHECKSUM = "41020000010"  # nmi_checksum("4102000001") == 0


@pytest.fixture
def program(utility):
    return factories.program(utility, profile="csip_aus", site_envelope_primacy=1)


@pytest.fixture
def api(manager):
    return api_client_for(manager)


def url(program) -> str:
    return f"/api/v1/programs/{program.pk}/site-envelopes/"


def row(nmi: str = NMI, start: datetime = START, **fields) -> dict:
    return {
        "connection_point_id": nmi,
        "start": start.isoformat(),
        "duration_s": 300,
        "op_mod_exp_lim_w": 1000,
        **fields,
    }


def nmi(n: int) -> str:
    return f"41020{n:05d}"


def test_a_batch_is_stored_in_one_go_and_listed_by_nmi_and_time(api, program):
    batch = [row(nmi(n), op_mod_exp_lim_w=1000 + n) for n in range(50)]
    batch.append(row(NMI_WITH_CHECKSUM, START + timedelta(minutes=5), op_mod_imp_lim_w=2000))
    response = api.post(url(program), batch, format="json")
    assert response.status_code == 201, response.content
    assert response.json() == {"stored": 51}
    assert SiteEnvelope.objects.filter(program=program).count() == 51
    # The checksum digit is checked, then dropped: the NMI names the site either way.
    listed = api.get(url(program), {"connection_point_id": NMI_WITH_CHECKSUM}).json()
    assert [(e["connection_point_id"], e["op_mod_imp_lim_w"]) for e in listed["results"]] == [
        (NMI, None),
        (NMI, 2000),
    ]
    at = (START + timedelta(minutes=6)).isoformat()
    active = api.get(url(program), {"connection_point_id": NMI, "active_at": at}).json()
    assert [e["op_mod_imp_lim_w"] for e in active["results"]] == [2000]
    assert api.get(url(program), {"active_at": "tomorrow"}).status_code == 400


def test_a_batch_is_written_by_one_insert(api, program, django_assert_max_num_queries):
    batch = [row(nmi(n)) for n in range(300)]
    # Auth and utility, the program, the overlap query, one INSERT, the transaction.
    with django_assert_max_num_queries(12):
        assert api.post(url(program), batch, format="json").status_code == 201
    assert SiteEnvelope.objects.count() == 300


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"connection_point_id": "4102000OO1"}, "connection_point_id"),
        ({"connection_point_id": "41020000019"}, "connection_point_id"),  # checksum is 0
        ({"op_mod_exp_lim_w": None}, "op_mod_exp_lim_w"),  # no limit at all
        ({"op_mod_exp_lim_w": -5}, "op_mod_exp_lim_w"),
        ({"duration_s": 30}, "duration_s"),
        ({"start": "soon"}, "start"),
    ],
)
def test_a_bad_row_refuses_the_batch_naming_its_index_and_field(api, program, bad, field):
    batch = [row(nmi(1)), row(nmi(2)), {**row(nmi(3)), **bad}]
    response = api.post(url(program), batch, format="json")
    assert response.status_code == 400
    refused = response.json()["rows"]
    assert {(r["row"], r["field"]) for r in refused} == {(2, field)}, refused
    assert refused[0]["message"]
    assert not SiteEnvelope.objects.exists()


def test_overlaps_in_the_batch_or_with_a_stored_envelope_are_refused(api, program):
    assert api.post(url(program), [row()], format="json").status_code == 201
    later = START + timedelta(minutes=4)
    response = api.post(
        url(program),
        [row(nmi(7)), row(nmi(7), START + timedelta(minutes=2)), row(start=later)],
        format="json",
    )
    assert response.status_code == 400
    refused = {r["row"]: r for r in response.json()["rows"]}
    assert set(refused) == {1, 2}
    assert "overlaps row 0" in refused[1]["message"]
    assert "overlaps a published envelope" in refused[2]["message"]
    assert refused[2]["field"] == "start" and NMI in refused[2]["message"]
    assert SiteEnvelope.objects.count() == 1
    # Another program's envelopes, or a cancelled one, are no obstacle.
    other = factories.program(program.utility, profile="csip_aus", site_envelope_primacy=2)
    assert api.post(url(other), [row(start=later)], format="json").status_code == 201
    services.site_envelope_cancel(envelope=SiteEnvelope.objects.get(program=program))
    assert api.post(url(program), [row(start=later)], format="json").status_code == 201


def test_posting_the_same_nmi_and_start_replaces_the_envelope(api, program):
    api.post(url(program), [row(op_mod_exp_lim_w=1000)], format="json")
    first = SiteEnvelope.objects.get()
    services.site_envelope_cancel(envelope=first)
    response = api.post(url(program), [row(op_mod_exp_lim_w=400, duration_s=600)], format="json")
    assert response.status_code == 201, response.content
    replaced = SiteEnvelope.objects.get()
    assert (replaced.op_mod_exp_lim_w, replaced.duration_s) == (400, 600)
    assert replaced.cancelled_at is None
    # A new mRID: a client sees a new DERControl, and drops the one it replaces.
    assert replaced.mrid != first.mrid


def test_a_program_without_site_envelope_primacy_publishes_none(api, utility):
    program = factories.program(utility, profile="csip_aus")
    response = api.post(url(program), [row()], format="json")
    assert response.status_code == 400
    assert "site envelope primacy" in response.json()["detail"]
    not_a_list = api.post(url(program), {"rows": []}, format="json")
    assert not_a_list.status_code == 400
    assert not_a_list.json() == {"detail": "Send a JSON list of envelopes."}
    assert not SiteEnvelope.objects.exists()


def test_site_envelope_primacy_needs_the_csip_aus_profile(utility):
    program = factories.program(utility, site_envelope_primacy=1)
    with pytest.raises(ValidationError) as refused:
        program.full_clean()
    assert "site_envelope_primacy" in refused.value.message_dict


def test_cancel_keeps_the_envelope_marked_cancelled(api, program):
    envelope = factories.site_envelope(program.utility, program=program)
    assert api.delete(f"{url(program)}{envelope.pk}/").status_code == 204
    envelope.refresh_from_db()
    cancelled_at = envelope.cancelled_at
    assert cancelled_at is not None
    assert api.delete(f"{url(program)}{envelope.pk}/").status_code == 204
    envelope.refresh_from_db()
    assert envelope.cancelled_at == cancelled_at


def test_unknown_or_other_utilitys_program_and_envelope_are_404(api, program):
    foreign = factories.site_envelope(factories.utility())
    assert api.get(url(foreign.program)).status_code == 404
    assert api.post(url(foreign.program), [row()], format="json").status_code == 404
    assert api.delete(f"{url(foreign.program)}{foreign.pk}/").status_code == 404
    # Nor through one's own program.
    assert api.delete(f"{url(program)}{foreign.pk}/").status_code == 404
    assert api.get("/api/v1/programs/999999/site-envelopes/").status_code == 404
    foreign.refresh_from_db()
    assert foreign.cancelled_at is None and SiteEnvelope.objects.count() == 1


def test_readers_read_and_may_not_publish(utility, program):
    analyst = api_client_for(factories.member(utility, Role.ANALYST))
    assert analyst.get(url(program)).status_code == 200
    assert analyst.post(url(program), [row()], format="json").status_code == 403
    operator = api_client_for(factories.member(utility, Role.OPERATOR))
    assert operator.post(url(program), [row()], format="json").status_code == 201
