from django.utils import timezone


def tenancy(request):
    """The active utility and membership. What the user may do is asked of the views
    themselves (``{% permits %}``, ``tenancy.permissions``), never decided here."""
    membership = getattr(request, "membership", None)
    return {
        "active_utility": getattr(request, "utility", None),
        "active_membership": membership,
        "user_memberships": getattr(request, "memberships", []),
        "role": membership.role if membership else None,
        # The zone every time on the page is shown in (the middleware activates the
        # utility's): pages label their times with it and scripts format charts in it.
        "time_zone_name": timezone.get_current_timezone_name(),
    }
