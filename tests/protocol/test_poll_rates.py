"""Poll and post rates per resource (issue 22 item 3, S-ALL-43).

DeviceCapability, EndDeviceList, FSAList, DERProgramList, DERList and
MirrorUsagePointList each carry the program's rate for that resource (blank: the
program's poll rate); a MirrorUsagePoint's postRate is its EndDevice's (the per-site
override), else the program's.
"""

import pytest
from django.urls import reverse

from programs.forms import ProgramForm
from programs.models import Program
from protocol.models import EndDevice
from protocol.xml import parse, serialize
from protocol.xml.resources.dcap import DeviceCapability
from protocol.xml.resources.der import DERList
from protocol.xml.resources.derp import DERProgramList
from protocol.xml.resources.edev import EndDeviceList, FunctionSetAssignmentsList
from protocol.xml.resources.mirror import MirrorUsagePoint, MirrorUsagePointList
from tests.conftest import api_client_for
from tests.protocol.sep_world import actor, enrolled_end_device, program_with_group

pytestmark = pytest.mark.django_db

RATES = {
    "dcap_poll_rate_s": 11,
    "edev_list_poll_rate_s": 22,
    "fsa_list_poll_rate_s": 33,
    "derp_list_poll_rate_s": 44,
    "der_list_poll_rate_s": 55,
    "mup_list_poll_rate_s": 66,
}


def _mup_body(lfdi: str) -> bytes:
    return serialize(
        MirrorUsagePoint(
            mrid="E1" * 16, role_flags=3, service_category_kind=0, status=1, device_lfdi=lfdi
        )
    )


def _served(agg, ed) -> dict[str, int | None]:
    get = agg.http.get
    base = f"/edev/{ed.pk}"
    return {
        "dcap_poll_rate_s": parse(get("/dcap").content, DeviceCapability).poll_rate,
        "edev_list_poll_rate_s": parse(get("/edev").content, EndDeviceList).poll_rate,
        "fsa_list_poll_rate_s": parse(
            get(f"{base}/fsa").content, FunctionSetAssignmentsList
        ).poll_rate,
        "derp_list_poll_rate_s": parse(get(f"{base}/derp").content, DERProgramList).poll_rate,
        "der_list_poll_rate_s": parse(get(f"{base}/der").content, DERList).poll_rate,
        "mup_list_poll_rate_s": parse(get("/mup").content, MirrorUsagePointList).poll_rate,
    }


def test_each_resource_carries_its_own_poll_rate(utility_a):
    # Failed before: one poll_rate_s per program was served on every resource.
    program, _ = program_with_group(utility_a, poll_rate_s=300, **RATES)
    agg = actor(utility_a, program=program)
    ed = enrolled_end_device(utility_a, client=agg.client, program=program)
    assert _served(agg, ed) == RATES
    Program.objects.filter(pk=program.pk).update(**dict.fromkeys(RATES))
    assert set(_served(agg, ed).values()) == {300}


def test_a_mup_posts_at_its_sites_rate_else_the_programs(utility_a):
    program, _ = program_with_group(utility_a, post_rate_s=120)
    agg = actor(utility_a, program=program)
    ed = enrolled_end_device(utility_a, client=agg.client, program=program)
    created = agg.http.post_sep("/mup", _mup_body(ed.lfdi))
    assert created.status_code == 201, created.content
    assert parse(agg.http.get(created["Location"]).content, MirrorUsagePoint).post_rate == 120
    EndDevice.objects.filter(pk=ed.pk).update(post_rate_s=45)
    assert parse(agg.http.get(created["Location"]).content, MirrorUsagePoint).post_rate == 45


def test_the_program_form_and_the_api_set_them(utility_a, manager_a, client_a):
    program, _ = program_with_group(utility_a)
    data = {**ProgramForm(instance=program, utility=utility_a).initial, **RATES}
    data = {k: v for k, v in data.items() if v is not None}
    form = ProgramForm(data, instance=program, utility=utility_a)
    assert set(RATES) <= set(form.fields)
    assert form.is_valid(), form.errors
    api = api_client_for(manager_a)
    url = f"/api/v1/programs/{program.pk}/"
    patched = api.patch(url, {"der_list_poll_rate_s": 15}, format="json")
    assert patched.status_code == 200, patched.json()
    assert api.get(url).json()["der_list_poll_rate_s"] == 15
    refused = api.patch(url, {"mup_list_poll_rate_s": 4}, format="json")
    assert refused.status_code == 400 and "mup_list_poll_rate_s" in refused.json()
    program.refresh_from_db()
    assert (program.der_list_poll_rate_s, program.mup_list_poll_rate_s) == (15, None)
    page = client_a.get(reverse("programs:program-update", args=[program.pk])).content.decode()
    assert all(f'name="{name}"' in page for name in RATES)


def test_a_sites_poll_rate_overrides_the_programs_on_its_own_resources(utility_a, manager_a):
    # Failed before: no per-site poll rate (the API refused the field; every site got the
    # program's rates).
    program, _ = program_with_group(utility_a, poll_rate_s=300, **RATES)
    agg = actor(utility_a, program=program)
    ed = enrolled_end_device(utility_a, client=agg.client, program=program)
    other = enrolled_end_device(utility_a, client=agg.client, program=program)
    api = api_client_for(manager_a)
    url = f"/api/v1/sep2/end-devices/{ed.pk}/"
    patched = api.patch(url, {"poll_rate_s": 20}, format="json")
    assert patched.status_code == 200, patched.json()
    assert api.get(url).json()["poll_rate_s"] == 20
    site = {"fsa_list_poll_rate_s": 20, "derp_list_poll_rate_s": 20, "der_list_poll_rate_s": 20}
    assert _served(agg, ed) == {**RATES, **site}  # the client-wide lists keep the program's
    assert _served(agg, other) == RATES
    listing = parse(agg.http.get(f"/edev/{ed.pk}/fsa").content, FunctionSetAssignmentsList)
    fsa_derp = listing.function_set_assignments[0].der_program_list_link.href
    assert parse(agg.http.get(fsa_derp).content, DERProgramList).poll_rate == 20
    refused = api.patch(url, {"poll_rate_s": 4}, format="json")
    assert refused.status_code == 400 and "poll_rate_s" in refused.json()
    assert api.patch(url, {"poll_rate_s": None}, format="json").status_code == 200
    assert _served(agg, ed) == RATES
