"""Settlement listens to programs: a completed event is queued for reconciliation."""

from django.db import transaction

from programs.choices import EventStatus


def on_event_changed(sender, *, event_id, utility_id, status, **kwargs):
    if status != EventStatus.COMPLETED:
        return
    from settlement.tasks import event_reconcile

    # Sent after the event's commit already; on_commit keeps it safe if a caller is in one.
    transaction.on_commit(lambda: event_reconcile.delay(event_id))
