"""Who may see what on the 2030.5 endpoint: certificate → client → utility, fail closed."""

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from programs.models import DispatchGroup
from protocol import pki
from protocol.models import EndDevice, Subscription
from protocol.services import client_register, client_revoke
from protocol.xml import serialize
from protocol.xml.resources.der import DERStatus
from protocol.xml.resources.edev import EndDeviceList
from protocol.xml.resources.pubsub import Subscription as SepSubscription
from tests import factories
from tests.protocol.client import SepClient
from tests.protocol.sep_world import (
    actor,
    ca,
    end_device_body,
    enrolled_end_device,
    identity,
    program_with_group,
    random_lfdi,
)

pytestmark = pytest.mark.django_db


def test_unknown_certificate_is_refused_with_a_reason(utility_a):
    stranger = pki.create_client_certificate(ca(), "stranger", role="aggregator")
    response = SepClient(stranger).get("/dcap")
    assert response.status_code == 403
    assert b"unknown client certificate" in response.content


def test_no_certificate_is_refused():
    response = SepClient().get("/dcap")
    assert response.status_code == 403


def test_revoked_certificate_is_refused_at_once(utility_a):
    agg = actor(utility_a)
    assert agg.http.get("/dcap").status_code == 200
    client_revoke(client=agg.client)
    response = agg.http.get("/dcap")
    assert response.status_code == 403
    assert b"revoked" in response.content


def test_expired_certificate_is_refused(utility_a):
    root = ca()
    key = root.key
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "old")]))
        .issuer_name(root.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=800))
        .not_valid_after(now - dt.timedelta(days=1))
    )
    expired = pki.Issued(certificate=builder.sign(key, hashes.SHA256()), key=key)
    client_register(utility=utility_a, lfdi=identity(expired).lfdi, kind="aggregator", name="old")
    response = SepClient(expired).get("/dcap")
    assert response.status_code == 403
    assert b"expired" in response.content


def test_forwarded_certificate_from_an_untrusted_peer_is_ignored(utility_a):
    agg = actor(utility_a)
    response = SepClient(agg.cert, REMOTE_ADDR="203.0.113.9").get("/dcap")
    assert response.status_code == 403


def _paths(end_device, gid=None):
    base = f"/edev/{end_device.pk}"
    paths = [base, f"{base}/rg", f"{base}/di", f"{base}/fsa", f"{base}/der"]
    paths += [f"{base}/der/0/{k}" for k in ("dercap", "derg", "ders", "dera")]
    paths += [f"{base}/derp", f"{base}/lel", f"{base}/sub"]
    if gid:
        paths += [f"{base}/derp/{gid}{s}" for s in ("", "/derc", "/actderc", "/dderc", "/dc")]
        pid = DispatchGroup.objects.get(pk=gid).program_id
        paths += [f"{base}/fsa/{pid}", f"{base}/fsa/{pid}/derp"]
    return paths


def test_aggregators_see_only_their_own_end_devices(utility_a, utility_b):
    program, group = program_with_group(utility_a)
    x, y = actor(utility_a, name="X"), actor(utility_a, name="Y")
    mine = enrolled_end_device(utility_a, client=x.client, program=program)
    theirs = enrolled_end_device(utility_a, client=y.client, program=program)
    # Another utility's aggregator with the same shape of data.
    z = actor(utility_b, name="Z")
    program_b, _ = program_with_group(utility_b)
    enrolled_end_device(utility_b, client=z.client, program=program_b)

    for path in _paths(mine, group.pk):
        assert x.http.get(path).status_code in (200, 404)
    for path in _paths(theirs, group.pk):
        response = x.http.get(path)
        assert response.status_code == 404, path
    assert x.http.get(f"/edev/{mine.pk}/derp/{group.pk}").status_code == 200
    for other in (y, z):
        listing = other.http.get("/edev?l=255").content
        assert mine.lfdi.encode() not in listing
    assert b'all="1"' in x.http.get("/edev?l=255").content


def test_device_certificate_acts_only_for_itself(utility_a):
    _, group = program_with_group(utility_a)
    a = actor(utility_a, "device", name="A")
    b = actor(utility_a, "device", name="B")
    ed_a = EndDevice.objects.create(
        utility=utility_a,
        lfdi=a.lfdi,
        sfdi=a.client.sfdi,
        pin=1,
        changed_time=dt.datetime.now(dt.UTC),
        device=factories.device(utility_a),
    )
    assert a.http.get(f"/edev/{ed_a.pk}").status_code == 200
    for path in _paths(ed_a, group.pk):
        assert b.http.get(path).status_code == 404, path
    # B cannot write A's DER status nor subscribe on A's behalf.
    status = DERStatus(reading_time=0)
    assert b.http.put_sep(f"/edev/{ed_a.pk}/der/0/ders", serialize(status)).status_code == 404
    sub = SepSubscription(
        subscribed_resource=f"/edev/{ed_a.pk}",
        encoding=0,
        level="+S1",
        limit=1,
        notification_uri="http://127.0.0.1:9/n",
    )
    assert b.http.post_sep(f"/edev/{ed_a.pk}/sub", serialize(sub)).status_code == 404
    assert not Subscription.objects.exists()


def test_aggregator_cannot_register_a_device_twice_or_steal_one(utility_a):
    x, y = actor(utility_a, name="X"), actor(utility_a, name="Y")
    lfdi, sfdi = random_lfdi()
    assert x.http.post_sep("/edev", end_device_body(lfdi, sfdi)).status_code == 201
    assert x.http.post_sep("/edev", end_device_body(lfdi, sfdi)).status_code == 409
    assert (
        y.http.post_sep("/edev", end_device_body(lfdi, sfdi)).status_code == 403
    )  # not yours (issue 16)
    assert EndDevice.objects.get().registered_by == x.client


def test_methods_and_media_types(utility_a):
    agg = actor(utility_a)
    response = agg.http.delete("/dcap")
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    head = agg.http.head("/dcap")
    assert head.status_code == 200 and int(head["Content-Length"]) > 0
    assert agg.http.post_sep("/tm", b"<x/>").status_code == 405
    response = agg.http.post("/edev", data=b"{}", content_type="application/json")
    assert response.status_code == 415
    assert response["Content-Length"] == str(len(response.content))


def test_end_device_list_paging(utility_a):
    program, _ = program_with_group(utility_a)
    agg = actor(utility_a, program=program)
    made = [enrolled_end_device(utility_a, client=agg.client, program=program) for _ in range(5)]
    enrolled_end_device(utility_a, client=actor(utility_a, name="other").client, program=program)

    def page(query):
        from protocol.xml import parse

        return parse(agg.http.get(f"/edev{query}").content, EndDeviceList)

    first = page("")  # no `l`: one item, as 2030.5 says
    assert (first.all, first.results) == (5, 1)
    second = page("?s=2&l=2")
    assert (second.all, second.results) == (5, 2)
    assert [e.lfdi for e in second.end_devices] == [e.lfdi for e in made[2:4]]
    beyond = page("?s=9&l=2")
    assert (beyond.all, beyond.results) == (5, 0)
    assert agg.http.get("/edev?l=-1").status_code == 400
