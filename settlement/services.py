"""Settlement's writes. Reconciliation and payments live in their own modules; this is the door."""

from settlement.payments import (
    adjustment_add,
    payment_batch_approve,
    payment_batch_create,
    payment_batch_delete,
    payment_batch_lock,
    season_settle,
    settlement_corrections,
)
from settlement.reconciliation import SettlementError, event_reconcile

__all__ = [
    "SettlementError",
    "adjustment_add",
    "event_reconcile",
    "payment_batch_approve",
    "payment_batch_create",
    "payment_batch_delete",
    "payment_batch_lock",
    "season_settle",
    "settlement_corrections",
]
