"""Settlement's writes. Reconciliation and payments live in their own modules; this is the door."""

from django.db import transaction

from programs.choices import ProgramPart
from programs.services import program_rules_set
from settlement.models import SettlementRules
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
    "PAYMENT_RULE_FIELDS",
    "SettlementError",
    "adjustment_add",
    "event_reconcile",
    "payment_batch_approve",
    "payment_batch_create",
    "payment_batch_delete",
    "payment_batch_lock",
    "season_settle",
    "settlement_corrections",
    "settlement_rules_set",
]


# What a program manager sets on the incentives page (all but the program itself).
PAYMENT_RULE_FIELDS = tuple(
    f.name
    for f in SettlementRules._meta.concrete_fields
    if f.name not in {"id", "utility", "program"}
)


@transaction.atomic
def settlement_rules_set(*, program, actor, values: dict) -> SettlementRules:
    """Set how `program`'s events are measured and paid, keeping the change in its
    history. Settlements already run keep the rules they were run with (their snapshot)."""
    return program_rules_set(
        model=SettlementRules,
        program=program,
        part=ProgramPart.PAYMENT,
        fields=PAYMENT_RULE_FIELDS,
        values=values,
        actor=actor,
    )
