from portal.tenancy.resolution import resolve_active_utility


class ActiveUtilityMiddleware:
    """Attach the active utility and membership of a logged-in staff user to the request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        resolve_active_utility(request, user=request.user)
        return self.get_response(request)
