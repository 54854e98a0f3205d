"""HTTP plumbing shared by every 2030.5 function set: responses, errors and list paging."""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from protocol.xml import SEP_CONTENT_TYPE, SepXmlError, parse, serialize
from protocol.xml.codec import SepObject
from protocol.xml.parser import max_body_bytes
from protocol.xml.resources.common import Error

DEFAULT_LIMIT = 1  # 2030.5: a list GET without `l` returns one item
MAX_LIMIT = 255
_MAX_QUERY_INT = 2**32 - 1


class SepResponse(HttpResponse):
    """A 2030.5 body: `application/sep+xml` with an explicit Content-Length."""

    def __init__(self, resource: SepObject | bytes | None = None, *, status: int = 200, **kw):
        body = resource if isinstance(resource, bytes) or resource is None else serialize(resource)
        super().__init__(body or b"", content_type=SEP_CONTENT_TYPE, status=status, **kw)
        self["Content-Length"] = str(len(self.content))


# Error reasonCode values (2030.5 Error).
INVALID_FORMAT = 0
INVALID_VALUES = 1
_MAX_RETRY_S = 2**16 - 1  # maxRetryDuration is a UInt16


def error_response(
    status: int, reason: str, *, reason_code: int = INVALID_FORMAT, retry_after_s: int | None = None
) -> HttpResponse:
    """Every refusal of the 2030.5 server: a 2030.5 `Error` in application/sep+xml.

    The reason is carried as an XML comment in the body, so a vendor can see what was
    refused; `retry_after_s` (where waiting can help) becomes maxRetryDuration and the HTTP
    Retry-After header.
    """
    retry = None if retry_after_s is None else min(max(1, retry_after_s), _MAX_RETRY_S)
    error = Error(reason_code=reason_code, max_retry_duration=retry)
    response = SepResponse(serialize(error, note=reason), status=status)
    if retry is not None:
        response["Retry-After"] = str(retry)
    return response


def bad_request(reason: str, *, reason_code: int = INVALID_FORMAT) -> HttpResponse:
    """400 with the reason in the body, so a vendor can see what we refused."""
    return error_response(400, reason, reason_code=reason_code)


def forbidden(reason: str) -> HttpResponse:
    return error_response(403, reason)


def not_found(reason: str = "not found") -> HttpResponse:
    return error_response(404, reason)


def conflict(reason: str) -> HttpResponse:
    return error_response(409, reason, reason_code=INVALID_VALUES)


def service_unavailable(reason: str, *, retry_after_s: int) -> HttpResponse:
    return error_response(503, reason, retry_after_s=retry_after_s)


def method_not_allowed(allowed: Iterable[str]) -> HttpResponse:
    allow = ", ".join(sorted({m.upper() for m in allowed}))
    response = error_response(405, f"method not allowed; use {allow}")
    response["Allow"] = allow
    return response


def unsupported_media_type() -> HttpResponse:
    return error_response(415, f"Content-Type must be {SEP_CONTENT_TYPE}")


def payload_too_large(limit: int) -> HttpResponse:
    return error_response(413, f"body exceeds the limit of {limit} bytes")


def has_sep_content_type(request: HttpRequest) -> bool:
    media_type = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    return media_type == SEP_CONTENT_TYPE


def parse_request_body(
    request: HttpRequest, expected: Any, *, profile: str = "csip"
) -> SepObject | HttpResponse:
    """The parsed body, or the error response to return (415, 413 or 400 with the reason)."""
    if not has_sep_content_type(request):
        return unsupported_media_type()
    # Refuse by the declared length before Django reads the body into memory.
    limit = max_body_bytes()
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if not declared.isdigit():
        return bad_request("invalid Content-Length")
    if int(declared) > limit:
        return payload_too_large(limit)
    try:
        return parse(request.body, expected, profile=profile)
    except SepXmlError as exc:
        return bad_request(str(exc))


class PagingError(ValueError):
    """A bad `s`, `a` or `l` query parameter."""


@dataclass(frozen=True)
class ListQuery:
    """The 2030.5 list query: start index, after-time (TimeType) and limit."""

    s: int = 0
    a: int | None = None
    l: int = DEFAULT_LIMIT  # noqa: E741 -- the standard's own name


def _query_int(params: Mapping[str, str], name: str) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 10:
        raise PagingError(f"{name} must be a non-negative integer")
    value = int(raw)
    if value > _MAX_QUERY_INT:
        raise PagingError(f"{name} is too large")
    return value


def list_query(params: Mapping[str, str]) -> ListQuery:
    """Read `s`, `a` and `l` from query parameters; `l` is capped at MAX_LIMIT."""
    s = _query_int(params, "s")
    a = _query_int(params, "a")
    limit = _query_int(params, "l")
    return ListQuery(
        s=s or 0,
        a=a,
        l=DEFAULT_LIMIT if limit is None else min(limit, MAX_LIMIT),
    )


@dataclass(frozen=True)
class Page:
    items: list
    all: int
    results: int


def page(
    items: Sequence | Any,
    s: int = 0,
    a: int | None = None,
    l: int = DEFAULT_LIMIT,  # noqa: E741
    *,
    after: Callable[[Any, int], Any] | None = None,
) -> Page:
    """Slice a list or queryset the 2030.5 way.

    `all` counts the whole list; `results` counts what this page returns. `a` applies only
    where the list is ordered by time and the caller passes `after(items, a)` to filter it;
    2030.5 lets a server ignore `a` elsewhere.
    """
    for name, value in (("s", s), ("l", l)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise PagingError(f"{name} must be a non-negative integer")
    if a is not None and after is not None:
        items = after(items, a)
    total = items.count() if isinstance(items, QuerySet) else len(items)
    limit = min(l, MAX_LIMIT)
    selected = list(items[s : s + limit]) if s < total else []
    return Page(items=selected, all=total, results=len(selected))
