"""While the database cannot be reached, every request gets 503 with Retry-After.

A database restart or failover is an outage of minutes, not a bug: browsers, API clients
and 2030.5 clients should wait and retry, and their retry must succeed as soon as the
database is back, without restarting the app. The middleware takes the request's database
connection before anything else needs it (the pool checks that connection), so a database
that is away is found up front and never half-way through a middleware; a view that loses
the database mid-request gets the same answer through process_exception.
"""

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.template import loader

from portal.listeners import is_sep2_path
from protocol.http import service_unavailable

logger = logging.getLogger(__name__)

UNAVAILABLE = (OperationalError, InterfaceError)
MESSAGE = "The database is unavailable for a moment; please try again shortly."


def database_unavailable_response(request: HttpRequest) -> HttpResponse:
    """503 with Retry-After, in the form the requester reads: 2030.5, API JSON or a page."""
    retry_after_s = settings.DATABASE_UNAVAILABLE_RETRY_AFTER_S
    if is_sep2_path(request.path):
        return service_unavailable("server unavailable, retry later", retry_after_s=retry_after_s)
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse({"detail": MESSAGE}, status=503)
    else:
        # A page without the base template: its context needs the database.
        body = loader.render_to_string("503.html", {"message": MESSAGE})
        response = HttpResponse(body, status=503)
    response["Retry-After"] = str(retry_after_s)
    response["Cache-Control"] = "no-store"
    return response


class DatabaseAvailabilityMiddleware:
    """Answer 503 + Retry-After instead of 500 while the database is away."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        try:
            connection.ensure_connection()
        except UNAVAILABLE as exc:
            logger.warning("database unavailable, answering 503 to %s: %s", request.path, exc)
            return database_unavailable_response(request)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception):
        if isinstance(exception, UNAVAILABLE):
            logger.warning("database lost during %s, answering 503: %s", request.path, exception)
            # The connection may be broken; give it back so the next request starts afresh.
            connection.close_if_unusable_or_obsolete()
            return database_unavailable_response(request)
        return None
