"""Writes that belong to the portal itself: heartbeats and utility switching."""

import socket

from django.utils import timezone

from portal.models import Heartbeat
from tenancy.resolution import SESSION_KEY


def heartbeat_record(*, source: str) -> Heartbeat:
    heartbeat, _ = Heartbeat.objects.update_or_create(
        source=source, defaults={"at": timezone.now(), "hostname": socket.gethostname()}
    )
    return heartbeat


def active_utility_switch(*, request, utility_id: int) -> bool:
    """Make one of the user's own utilities the active one; any other id changes nothing."""
    if not any(m.utility_id == utility_id for m in request.memberships):
        return False
    request.session[SESSION_KEY] = utility_id
    return True
