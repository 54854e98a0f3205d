"""Where the portal listens to the domain: telemetry and Responses mark the utility's live
pages due (throttled by the publisher); a changed event is pushed to its page at once.

Live updates are best-effort. These receivers run after the domain's write has committed,
so an unreachable cache or channel layer (Redis restarting) must not turn that write's
response into an error: the update is skipped with a warning, and live pages catch up
with the next one once Redis is back.
"""

import functools
import logging

from django.dispatch import receiver

from devices.signals import telemetry_ingested
from portal.live import LIVE_UNAVAILABLE, event_snapshot, mark_dirty
from portal.realtime import push
from programs.models import Event
from programs.signals import dispatch_responded, event_changed
from vendors.signals import conformance_run_progressed

logger = logging.getLogger(__name__)


def best_effort(receiver_function):
    @functools.wraps(receiver_function)
    def wrapper(*args, **kwargs):
        try:
            receiver_function(*args, **kwargs)
        except LIVE_UNAVAILABLE as exc:
            logger.warning("live update skipped (%s): %s", receiver_function.__name__, exc)

    return wrapper


@receiver(telemetry_ingested, dispatch_uid="portal.live")
@best_effort
def on_telemetry_ingested(sender, *, utility_id: int, **kwargs) -> None:
    mark_dirty(utility_id=utility_id)


@receiver(dispatch_responded, dispatch_uid="portal.live.responses")
@best_effort
def on_dispatch_responded(sender, *, utility_id: int, **kwargs) -> None:
    mark_dirty(utility_id=utility_id)


@receiver(event_changed, dispatch_uid="portal.live.events")
@best_effort
def on_event_changed(sender, *, event_id: int, utility_id: int, **kwargs) -> None:
    """An event changed (in whichever process): tell its page and the control rooms now.

    Status changes are rare, so they are pushed at once rather than throttled: the event's
    own topic gets a fresh snapshot (status badge, funnel) and ``events`` tells control
    rooms to refresh their active and upcoming lists.
    """
    event = Event.objects.for_utility(utility_id).filter(pk=event_id).first()
    if event is None:
        return
    snapshot = event_snapshot(event=event)
    push(utility_id=utility_id, topic=f"event.{event_id}", data=snapshot)
    push(
        utility_id=utility_id,
        topic="events",
        data={"event": event_id, "status": event.status, "program": event.program_id},
    )


@receiver(conformance_run_progressed, dispatch_uid="portal.live.conformance")
@best_effort
def on_conformance_run_progressed(sender, *, run, **kwargs) -> None:
    """A conformance run advanced (committed): its page's progress bar follows."""
    push(
        utility_id=run.utility_id,
        topic=f"conformance.{run.pk}",
        data={"run": run.pk, "status": run.status, "progress": run.progress_pct},
    )
