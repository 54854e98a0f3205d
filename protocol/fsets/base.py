"""The one gate every 2030.5 view goes through: certificate → client → utility (fail closed).

Views never look at identity themselves. `SepView.dispatch` resolves the client from the
certificate (one query), refuses unknown, revoked and expired certificates with 403 and
a reason, and `end_device()` hands out only EndDevices this client may act for; anything
else is 404, exactly like a missing one.
"""

import time
from datetime import datetime
from functools import lru_cache
from math import ceil

from cryptography.x509.oid import NameOID
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from protocol import cache, selectors
from protocol.http import (
    INVALID_VALUES,
    PagingError,
    SepResponse,
    bad_request,
    conflict,
    forbidden,
    list_query,
    method_not_allowed,
    not_found,
    page,
    parse_request_body,
    service_unavailable,
)
from protocol.managers.edev import reported_resource
from protocol.models import Client, EndDevice
from protocol.services import (
    Conflict,
    NotYours,
    client_edition_note,
    client_touch,
    end_device_poll_note,
    end_device_touch,
    exchange_record,
)
from protocol.transport import client_identity_from_request
from protocol.xml import schema_version, serialize
from protocol.xml.codec import SepObject
from protocol.xml.resources.common import from_time_type

DEFAULT_POLL_RATE_S = 300


class Refused(Exception):
    """Stop handling the request and answer with this response."""

    def __init__(self, response: HttpResponse):
        super().__init__(response.status_code)
        self.response = response


class BadInput(ValueError):
    """A body that parsed but whose values the server cannot take (400)."""


def instant(seconds: int, name: str) -> datetime:
    """A TimeType as an aware datetime, or 400 when it is outside what a calendar holds."""
    try:
        return from_time_type(seconds)
    except (OverflowError, OSError, ValueError):
        raise BadInput(f"{name} is not a representable time") from None


def error_message(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
    return " ".join(exc.messages)


@lru_cache(maxsize=cache.MAX_IDENTITIES)
def issuer_common_name(identity) -> str:
    issuer = identity.certificate.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(issuer[0].value) if issuer else ""


def client_for(identity) -> Client | None:
    """The certificate's client: from the identity cache while nothing it is built from
    changed (no query), else one query."""
    issuer = issuer_common_name(identity)
    client = cache.clients.get(identity.lfdi, issuer)
    if client is not None:
        return client
    before = cache.tokens((cache.GLOBAL,))
    client = selectors.client_by_lfdi(lfdi=identity.lfdi, certificate=identity.certificate)
    if client is not None and before is not None and cache.storable():
        cache.clients.put(identity.lfdi, issuer, client, before[0])
    return client


def refusal(client: Client | None, identity, now: datetime) -> str | None:
    """Why this certificate may not act now (403), or None."""
    if client is None:
        return "unknown client certificate"
    # One endpoint trusts every utility's CA; a certificate acts only where it was issued.
    if (issuer_refusal := selectors.client_issuer_refusal(client)) is not None:
        return issuer_refusal
    if client.revoked:
        return "client certificate revoked"
    not_after = identity.certificate.not_valid_after_utc
    if not_after < now or (client.cert_not_after and client.cert_not_after < now):
        return "client certificate expired"
    if identity.certificate.not_valid_before_utc > now:
        return "client certificate not yet valid"
    return None


def client_profile(client: Client) -> str:
    """The XML profile the client's program speaks."""
    program = client.program
    return "csipaus" if program and program.profile == "csip_aus" else "csip"


def client_poll_rate(client: Client) -> int:
    """The pollRate the client's program asks for."""
    program = client.program
    return program.poll_rate_s if program else DEFAULT_POLL_RATE_S


@method_decorator(csrf_exempt, name="dispatch")
class SepView(View):
    """Base of every 2030.5 view. Subclasses define get/post/put/delete.

    A GET of a `cacheable` view is answered from protocol.cache while nothing it was built
    from changed, with an ETag (If-None-Match answers 304) and Last-Modified.
    """

    client: Client
    now: datetime
    cacheable = True
    # While rendering a cacheable GET: the generation tokens read before each read of the
    # database, and the EndDevice the answer is about (None: not caching).
    _deps: dict[str, int] | None = None
    _end_device_id: int | None = None
    _valid_until: float | None = None

    def dispatch(self, request, *args, **kwargs):
        method = request.method.lower()
        if method == "head":
            method = "get"
        handler = getattr(self, method, None) if method in self.http_method_names else None
        identity = client_identity_from_request(request)
        if identity is None:
            return forbidden("no verified client certificate")
        client = client_for(identity)
        self.now = timezone.now()
        reason = refusal(client, identity, self.now)
        if reason is not None:
            return forbidden(reason)
        if handler is None:
            return method_not_allowed(self._allowed())
        self.client = client
        self.utility = client.utility
        program = client.program
        self.profile = client_profile(client)
        self.poll_rate = client_poll_rate(client)
        self.post_rate = program.post_rate_s if program else None
        client_touch(client=client, now=self.now)
        if client.outage_until is not None and self.now < client.outage_until:
            # A conformance run simulates the server being down for this client only.
            remaining = (client.outage_until - self.now).total_seconds()
            response = service_unavailable("server unavailable", retry_after_s=ceil(remaining))
        elif method == "get" and self.cacheable and client.recording_run_id is None:
            response = self._cached(handler, request, *args, **kwargs)
        else:
            response = self._handle(handler, request, *args, **kwargs)
        if client.recording_run_id is not None:  # only while a conformance run watches
            exchange_record(client=client, request=request, response=response, started=self.now)
        return response

    def _handle(self, handler, request, *args, **kwargs):
        try:
            return handler(request, *args, **kwargs)
        except Refused as refused:
            return refused.response
        except Conflict as exc:
            return conflict(str(exc))
        except NotYours as exc:
            return forbidden(str(exc))
        except ValidationError as exc:
            return bad_request(error_message(exc), reason_code=INVALID_VALUES)
        except BadInput as exc:
            return bad_request(str(exc), reason_code=INVALID_VALUES)
        except PagingError as exc:
            return bad_request(str(exc))

    def _cached(self, handler, request, *args, **kwargs):
        key = cache.response_key(self.client.pk, request.path, request.META.get("QUERY_STRING", ""))
        condition = request.META.get("HTTP_IF_NONE_MATCH")
        entry = cache.responses.get(key)
        if entry is not None:
            if entry.end_device_id is not None:
                end_device_poll_note(end_device_id=entry.end_device_id, now=self.now)
            return entry_response(entry, condition)
        before = cache.tokens((cache.GLOBAL,))
        self._deps = None if before is None else {cache.GLOBAL: before[0]}
        self._valid_until = None
        response = self._handle(handler, request, *args, **kwargs)
        deps, self._deps = self._deps, None
        if (
            response.status_code != 200
            or deps is None
            or not isinstance(response, SepResponse)
            or not cache.storable()
        ):
            return response
        body = response.content
        entry = cache.Entry(
            body=body,
            etag=cache.etag_of(body),
            last_modified=cache.http_date(time.time()),
            deps=tuple(deps),
            tokens=tuple(deps.values()),
            end_device_id=self._end_device_id,
            valid_until=self._valid_until,
        )
        cache.responses.put(key, entry)
        return entry_response(entry, condition)

    def changes_at(self, instant: datetime | None) -> None:
        """The answer being rendered changes by the clock alone at `instant` (a control's
        interval starts or ends): a cached copy is served only until then."""
        if instant is None:
            return
        at = instant.timestamp()
        if self._valid_until is None or at < self._valid_until:
            self._valid_until = at

    def _depend(self, key: str) -> None:
        """The answer being cached is built from `key`'s data: note its token first."""
        if self._deps is None or key in self._deps:
            return
        token = cache.tokens((key,))
        if token is None:
            self._deps = None
        else:
            self._deps[key] = token[0]

    def _allowed(self) -> list[str]:
        names = [m for m in ("get", "post", "put", "delete") if hasattr(self, m)]
        return [*names, "head"] if "get" in names else names

    # --- helpers for subclasses ---------------------------------------------------------

    def poll_rate_of(self, resource: str, end_device: EndDevice | None = None) -> int:
        """The pollRate of one of programs.models.POLLED_RESOURCES for this client; on an
        EndDevice's own resources, the site's override (EndDevice.poll_rate_s) wins."""
        if end_device is not None and end_device.poll_rate_s:
            return end_device.poll_rate_s
        program = self.client.program
        return program.poll_rate_for(resource) if program else DEFAULT_POLL_RATE_S

    def end_device(self, eid: int) -> EndDevice:
        """This client's EndDevice, or 404 (another client's answers like a missing one)."""
        self._depend(cache.end_device_key(eid))
        end_device = selectors.end_device_for_client(client=self.client, pk=eid)
        if end_device is None:
            raise Refused(not_found("no such EndDevice"))
        end_device_touch(end_device=end_device, now=self.now)
        self._end_device_id = end_device.pk
        return end_device

    def reported(self, end_device: EndDevice, key: str, cls, href: str):
        """The resource as the client last PUT it, or 404 before it reported it."""
        resource = reported_resource(end_device, key, cls, href, self.profile)
        if resource is None:
            raise Refused(not_found(f"{cls.__name__} not reported yet"))
        return resource

    def body(self, request, expected):
        parsed = parse_request_body(request, expected, profile=self.profile)
        if isinstance(parsed, HttpResponse):
            raise Refused(parsed)
        client_edition_note(client=self.client, schema_ver=schema_version(parsed))
        return parsed

    def sep(self, resource: SepObject, *, status: int = 200) -> SepResponse:
        return SepResponse(serialize(resource, profile=self.profile), status=status)

    def page(self, request, items):
        query = list_query(request.GET)
        return page(items, s=query.s, l=query.l)

    def created(self, location: str) -> HttpResponse:
        response = SepResponse(status=201)
        response["Location"] = location
        return response

    def no_content(self) -> HttpResponse:
        response = HttpResponse(status=204)
        response["Content-Length"] = "0"
        return response


def entry_response(entry: cache.Entry, if_none_match: str | None) -> HttpResponse:
    """A cached answer: 304 when the client holds this ETag already, else the bytes."""
    if cache.if_none_match(if_none_match, entry.etag):
        response = HttpResponse(status=304)
    else:
        response = SepResponse(entry.body)
    response["ETag"] = entry.etag
    response["Last-Modified"] = entry.last_modified
    return response
