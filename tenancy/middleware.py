from collections.abc import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils import timezone

from tenancy.resolution import resolve_active_utility


class ActiveUtilityMiddleware:
    """Attach the active utility and membership of a logged-in staff user to the request,
    and show times in that utility's timezone (they are stored in UTC)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        utility = resolve_active_utility(request, user=request.user).utility
        if utility is None:
            customer = (
                getattr(request.user, "customer", None) if request.user.is_authenticated else None
            )
            utility = getattr(customer, "utility", None)
        try:
            if utility is not None:
                timezone.activate(ZoneInfo(utility.timezone))
            else:
                timezone.deactivate()
        except ZoneInfoNotFoundError:
            timezone.deactivate()
        return self.get_response(request)
