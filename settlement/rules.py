"""A program's settlement rules, and the money arithmetic every payment line goes through."""

from decimal import Decimal

from settlement.choices import ROUNDING_MODES, Rounding
from settlement.models import SettlementRules

CENT = Decimal("0.01")


def rules_for_program(program) -> SettlementRules:
    """The program's rules, or the defaults (unsaved) when none were set."""
    try:
        return program.settlement_rules
    except SettlementRules.DoesNotExist:
        return SettlementRules(utility_id=program.utility_id, program=program)


def rules_snapshot(rules: SettlementRules) -> dict:
    """The rules as plain JSON, stored with every run and settlement that used them."""
    skip = {"id", "utility", "program"}
    snapshot = {}
    for field in SettlementRules._meta.concrete_fields:
        if field.name in skip:
            continue
        value = getattr(rules, field.attname)
        snapshot[field.name] = str(value) if isinstance(value, Decimal) else value
    return snapshot


def to_cents(amount: Decimal, *, rounding: str = Rounding.HALF_UP) -> Decimal:
    """Round dollars to cents.

    The rule is per program: HALF_UP (the default; what a customer checking by hand
    expects, 0.125 → 0.13) or HALF_EVEN (banker's, 0.125 → 0.12, no upward drift over
    many lines). Each payment line is rounded once; totals are sums of rounded lines,
    so the statement adds up exactly.
    """
    if not isinstance(amount, Decimal):
        raise TypeError(f"money must be Decimal, not {type(amount).__name__}")
    return amount.quantize(CENT, rounding=ROUNDING_MODES[Rounding(rounding)])


def usd(amount: Decimal) -> str:
    """$1,234.50 and -$416.67 (rates keep up to four places when they need them)."""
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    if amount == amount.quantize(CENT):
        return f"{sign}${amount.quantize(CENT):,}"
    return f"{sign}${amount.normalize():,f}"
