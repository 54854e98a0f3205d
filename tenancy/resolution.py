"""Which utility a request acts for: the one the user chose, among their memberships only."""

from tenancy.selectors import memberships_for_user

SESSION_KEY = "active_utility_id"
HEADER = "HTTP_X_RESERVOIR_UTILITY"


def resolve_active_utility(request, *, user) -> None:
    """Set ``request.utility``, ``request.membership`` and ``request.memberships``.

    The choice comes from the ``X-Reservoir-Utility`` header (a slug, for API clients) or the
    session. A choice the user holds no membership for resolves to nothing, never to a
    default, so a forged header fails closed.
    """
    memberships = memberships_for_user(user=user)
    request.memberships = memberships
    request.membership = None
    request.utility = None
    if not memberships:
        return
    wanted_slug = request.META.get(HEADER)
    if wanted_slug:
        chosen = next((m for m in memberships if m.utility.slug == wanted_slug), None)
    else:
        session = getattr(request, "session", None)
        wanted_id = session.get(SESSION_KEY) if session is not None else None
        chosen = next((m for m in memberships if m.utility_id == wanted_id), memberships[0])
    if chosen is not None:
        request.membership = chosen
        request.utility = chosen.utility
