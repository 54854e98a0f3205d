"""Which utility a request acts for: the one the user chose, among their memberships only."""

from typing import TYPE_CHECKING, cast

from django.http import HttpRequest

from tenancy.models import Membership, Utility
from tenancy.selectors import memberships_for_user

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

SESSION_KEY = "active_utility_id"
HEADER = "HTTP_X_RESERVOIR_UTILITY"


class TenantRequest(HttpRequest):
    """A request once its active utility is resolved (by ``ActiveUtilityMiddleware``).

    For type checkers only: requests stay Django's own, ``resolve_active_utility`` sets these.
    """

    utility: Utility | None
    membership: Membership | None
    memberships: list[Membership]


class MemberRequest(TenantRequest):
    """A request that ``UtilityMemberMixin`` let through: a staff member of the active utility."""

    utility: Utility
    membership: Membership


def resolve_active_utility(request: HttpRequest, *, user: "User | AnonymousUser") -> TenantRequest:
    """Set ``request.utility``, ``request.membership`` and ``request.memberships``.

    The choice comes from the ``X-Reservoir-Utility`` header (a slug, for API clients) or the
    session. A choice the user holds no membership for resolves to nothing, never to a
    default, so a forged header fails closed. Returns the same request, typed as resolved.
    """
    tenant_request = cast(TenantRequest, request)
    memberships = memberships_for_user(user=user)
    tenant_request.memberships = memberships
    tenant_request.membership = None
    tenant_request.utility = None
    if not memberships:
        return tenant_request
    wanted_slug = request.META.get(HEADER)
    chosen: Membership | None
    if wanted_slug:
        chosen = next((m for m in memberships if m.utility.slug == wanted_slug), None)
    else:
        session = getattr(request, "session", None)
        wanted_id = session.get(SESSION_KEY) if session is not None else None
        chosen = next((m for m in memberships if m.utility_id == wanted_id), memberships[0])
    if chosen is not None:
        tenant_request.membership = chosen
        tenant_request.utility = chosen.utility
    return tenant_request
