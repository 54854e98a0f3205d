"""The 2030.5 listener's fast path (protocol.fastpath): cached GETs answered before Django,
by the same rules SepView applies, and nothing it should not answer."""

import asyncio
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.conf import settings
from django.utils import timezone

from portal.listeners import Sep2Http
from protocol import fastpath, seen
from protocol.models import Client
from protocol.services import client_revoke
from tests.protocol.test_server_cache import world

pytestmark = pytest.mark.django_db


def scope_for(agg, path: str, query: str = "", **headers) -> dict:
    sent = {
        "x-ssl-client-cert": quote(agg.cert.cert_pem.decode(), safe=""),
        "x-reservoir-proxy-secret": settings.SEP2_PROXY_SECRET,
        **headers,
    }
    return {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": query.encode(),
        "headers": [(k.encode(), v.encode()) for k, v in sent.items()],
        "client": ("127.0.0.1", 40000),
    }


def answer(scope) -> list[dict]:
    """Run the listener app; Django behind it must not be reached."""

    async def django(scope, receive, send):
        raise AssertionError("reached Django")

    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    async def receive():
        return {"type": "http.request", "body": b""}

    asyncio.run(Sep2Http(django)(scope, receive, send))
    return sent


def test_a_cached_get_is_answered_before_django(manager_a, django_assert_num_queries):
    _, _, group, agg, end_devices = world(manager_a)
    path = f"/edev/{end_devices[0].pk}/derp/{group.pk}/derc"
    assert fastpath.lookup(scope_for(agg, path, "l=10")) is None  # nothing cached yet
    rendered = agg.http.get(path, {"l": "10"})
    with django_assert_num_queries(0):
        start, body = answer(scope_for(agg, path, "l=10"))
    assert start["status"] == 200
    assert body["body"] == rendered.content
    headers = dict(start["headers"])
    assert headers[b"etag"].decode() == rendered["ETag"]
    assert headers[b"content-type"] == b"application/sep+xml"
    assert int(headers[b"content-length"]) == len(rendered.content)
    start, body = answer(scope_for(agg, path, "l=10", **{"if-none-match": rendered["ETag"]}))
    assert start["status"] == 304
    assert body["body"] == b""
    # Another query is another answer: not cached yet.
    assert fastpath.lookup(scope_for(agg, path, "l=5")) is None


def test_the_fast_path_believes_only_the_proxy(manager_a):
    _, _, _, agg, _ = world(manager_a)
    agg.http.get("/dcap")
    assert fastpath.lookup(scope_for(agg, "/dcap")) is not None
    untrusted = {**scope_for(agg, "/dcap"), "client": ("203.0.113.9", 40000)}
    assert fastpath.lookup(untrusted) is None
    no_secret = scope_for(agg, "/dcap", **{"x-reservoir-proxy-secret": "wrong"})
    assert fastpath.lookup(no_secret) is None
    failed = scope_for(agg, "/dcap", **{"x-ssl-client-verify": "FAILED:unknown"})
    assert fastpath.lookup(failed) is None
    post = {**scope_for(agg, "/dcap"), "method": "POST"}
    assert fastpath.lookup(post) is None


def test_no_client_gets_another_clients_cached_answer(manager_a):
    _, program, group, agg, end_devices = world(manager_a)
    from tests.protocol.sep_world import actor

    other = actor(agg.client.utility, program=program, name="other")
    path = f"/edev/{end_devices[0].pk}/derp/{group.pk}/derc"
    agg.http.get(path)
    other.http.get("/dcap")  # other is a known, cached client
    assert fastpath.lookup(scope_for(agg, path)) is not None
    assert fastpath.lookup(scope_for(other, path)) is None
    assert other.http.get(path).status_code == 404


def test_a_poll_on_the_fast_path_is_noted_and_revocation_goes_to_django(
    manager_a, django_assert_num_queries
):
    # Before protocol.seen, a poll due a last-poll note went to Django for its UPDATE.
    _, _, _, agg, end_devices = world(manager_a)
    one = f"/edev/{end_devices[0].pk}"
    agg.http.get(one)
    seen.ledger.clear()
    with django_assert_num_queries(0):
        assert fastpath.lookup(scope_for(agg, one)) is not None
    clients, end_device_polls = seen.ledger.take()
    assert list(clients) == [agg.client.pk]
    assert list(end_device_polls) == [end_devices[0].pk]
    client_revoke(client=Client.objects.get(pk=agg.client.pk))
    assert fastpath.lookup(scope_for(agg, "/dcap")) is None
    assert agg.http.get("/dcap").status_code == 403


def test_uncached_views_never_take_the_fast_path(manager_a):
    _, _, _, agg, end_devices = world(manager_a)
    agg.http.get("/tm")
    agg.http.get("/tm")
    assert fastpath.lookup(scope_for(agg, "/tm")) is None
    from portal.listeners import sep2_match

    assert not fastpath.cacheable(sep2_match("/tm"))
    assert not fastpath.cacheable(sep2_match(f"/edev/{end_devices[0].pk}/sub"))
    assert fastpath.cacheable(sep2_match("/dcap"))


def test_time_is_answered_before_django_without_the_database(
    manager_a, monkeypatch, django_assert_num_queries
):
    from protocol.managers.time import time_body

    utility, program, _, agg, _ = world(manager_a)
    assert agg.http.get("/tm").status_code == 200  # first contact: Django, a last-seen note
    frozen = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: frozen)
    rendered = agg.http.get("/tm")
    with django_assert_num_queries(0):
        start, body = answer(scope_for(agg, "/tm"))
        head_start, head_body = answer({**scope_for(agg, "/tm"), "method": "HEAD"})
    assert start["status"] == 200
    assert body["body"] == rendered.content
    assert body["body"] == time_body(
        zone_name=utility.timezone, now=frozen, poll_rate=program.poll_rate_s, profile="csip"
    )
    headers = dict(start["headers"])
    assert headers[b"content-type"] == b"application/sep+xml"
    assert int(headers[b"content-length"]) == len(rendered.content)
    assert b"etag" not in headers  # the clock's answer has no validator
    assert head_start["status"] == 200 and head_body["body"] == b""


def test_time_on_the_fast_path_follows_the_utility_and_program(manager_a):
    """The zone and poll rate are kept with the identity: a change to either is served
    from the next request on (the same table watch drops the cached client)."""
    from protocol.xml import parse
    from protocol.xml.resources.time import Time

    utility, program, _, agg, _ = world(manager_a)
    agg.http.get("/tm")
    assert fastpath.time_lookup(scope_for(agg, "/tm")) is not None
    program.poll_rate_s = 123
    program.save()
    assert fastpath.time_lookup(scope_for(agg, "/tm")) is None  # Django reloads the client
    agg.http.get("/tm")
    tm = parse(fastpath.time_lookup(scope_for(agg, "/tm")), Time)
    assert tm.poll_rate == 123
    utility.timezone = "Australia/Brisbane"
    utility.save()
    assert fastpath.time_lookup(scope_for(agg, "/tm")) is None
    agg.http.get("/tm")
    tm = parse(fastpath.time_lookup(scope_for(agg, "/tm")), Time)
    assert (tm.tz_offset, tm.dst_offset) == (10 * 3600, 0)


def test_time_is_refused_on_the_fast_path_as_in_django(manager_a):
    """An unknown client, an untrusted hop, no certificate and a revoked client all go
    to Django, which refuses them as before."""
    from tests.protocol.sep_world import actor

    utility, program, _, agg, _ = world(manager_a)
    stranger = actor(utility, program=program, name="stranger")
    Client.objects.filter(pk=stranger.client.pk).delete()
    assert fastpath.time_lookup(scope_for(stranger, "/tm")) is None
    assert stranger.http.get("/tm").status_code == 403
    agg.http.get("/tm")
    assert fastpath.time_lookup(scope_for(agg, "/tm")) is not None
    assert fastpath.time_lookup({**scope_for(agg, "/tm"), "client": ("203.0.113.9", 1)}) is None
    no_cert = {**scope_for(agg, "/tm"), "headers": []}
    assert fastpath.time_lookup(no_cert) is None
    client_revoke(client=Client.objects.get(pk=agg.client.pk))
    assert fastpath.time_lookup(scope_for(agg, "/tm")) is None
    assert agg.http.get("/tm").status_code == 403
    assert fastpath.time_lookup(scope_for(agg, "/tm")) is None


def test_a_pass_ends_with_the_certificate_and_the_outage(manager_a, monkeypatch):
    """An accepted certificate header is kept as a pass (no parse, no client lookup per
    request), but only within the certificate's validity and outside a simulated outage,
    as SepView's `refusal` and outage answer have it."""
    _, _, _, agg, _ = world(manager_a)
    agg.http.get("/dcap")
    assert fastpath.lookup(scope_for(agg, "/dcap")) is not None  # the pass is made
    not_after = agg.cert.certificate.not_valid_after_utc.timestamp()
    monkeypatch.setattr(fastpath.time, "time", lambda: not_after + 1)
    assert fastpath.lookup(scope_for(agg, "/dcap")) is None
    monkeypatch.undo()

    now = timezone.now()
    Client.objects.filter(pk=agg.client.pk).update(outage_until=now + timedelta(seconds=60))
    assert agg.http.get("/dcap").status_code == 503  # Django answers the outage
    assert fastpath.lookup(scope_for(agg, "/dcap")) is None
    later = (now + timedelta(seconds=61)).timestamp()
    monkeypatch.setattr(fastpath.time, "time", lambda: later)
    monkeypatch.setattr(timezone, "now", lambda: now + timedelta(seconds=61))
    assert agg.http.get("/dcap").status_code == 200  # over: Django serves it again
    assert fastpath.lookup(scope_for(agg, "/dcap")) is not None


def test_a_pass_follows_the_proxy_settings(manager_a, settings):
    _, _, _, agg, _ = world(manager_a)
    agg.http.get("/dcap")
    assert fastpath.lookup(scope_for(agg, "/dcap")) is not None
    settings.SEP2_TRUSTED_PROXIES = ["10.9.9.9"]
    assert fastpath.lookup(scope_for(agg, "/dcap")) is None
    settings.SEP2_TRUSTED_PROXIES = ["127.0.0.1"]
    assert fastpath.lookup(scope_for(agg, "/dcap")) is not None
    old_secret = settings.SEP2_PROXY_SECRET
    settings.SEP2_PROXY_SECRET = "rotated-" + old_secret
    stale = scope_for(agg, "/dcap", **{"x-reservoir-proxy-secret": old_secret})
    assert fastpath.lookup(stale) is None


def test_header_names_are_read_in_any_case(manager_a):
    """ASGI servers should lowercase header names; one that does not is still read."""
    _, _, _, agg, _ = world(manager_a)
    agg.http.get("/dcap")
    scope = scope_for(agg, "/dcap")
    scope["headers"] = [(name.title(), value) for name, value in scope["headers"]]
    assert fastpath.lookup(scope) is not None
