"""Settlement listens to programs: a completed event is queued for reconciliation."""

import logging

from django.db import transaction
from django.dispatch import receiver

from programs.choices import EventStatus
from programs.signals import event_changed

logger = logging.getLogger(__name__)


def _queue(event_id: int) -> None:
    from settlement.tasks import event_reconcile

    try:
        event_reconcile.delay(event_id)
    except Exception:
        # The event's own transition already committed; a broker outage must not undo it.
        # The recompute button or API reconciles the event later.
        logger.exception("could not queue reconciliation of event %s", event_id)


@receiver(event_changed, dispatch_uid="settlement.reconcile_on_complete")
def on_event_changed(sender, *, event_id, utility_id, status, **kwargs):
    if status != EventStatus.COMPLETED:
        return
    # programs sends after its commit; on_commit keeps this safe inside any outer atomic.
    transaction.on_commit(lambda: _queue(event_id))
