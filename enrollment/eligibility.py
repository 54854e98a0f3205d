"""The eligibility engine: each rule reads the program's ``EligibilityRules`` as data and
answers pass or fail with a reason a customer can read.
"""

import re
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q

from enrollment.choices import OPEN_STATES, EligibilityRule
from enrollment.models import AccountWhitelist, EligibilityRules, Enrollment
from programs.models import QualifiedEquipment


@dataclass(frozen=True)
class RuleOutcome:
    rule: str
    passed: bool
    reason: str


def _n(value: Decimal) -> str:
    """3.00 → "3", 9.50 → "9.5"."""
    text = format(Decimal(value).normalize(), "f")
    return text


def rules_for(program) -> EligibilityRules:
    """The program's rules; a program without any gets the defaults (saved, so staff see them)."""
    rules, _ = EligibilityRules.objects.get_or_create(
        program=program, defaults={"utility_id": program.utility_id}
    )
    return rules


def account_well_formed(*, rules: EligibilityRules, account_number: str) -> bool:
    return re.fullmatch(rules.account_number_regex, account_number or "") is not None


def whitelist_entry(*, enrollment: Enrollment) -> AccountWhitelist | None:
    """The list entry for this account: one for this program wins over one for all programs."""
    entries = AccountWhitelist.objects.for_utility(enrollment.utility).filter(
        Q(program=enrollment.program) | Q(program__isnull=True),
        account_number=enrollment.account_number,
    )
    return sorted(entries, key=lambda e: e.program_id is None)[0] if entries else None


def _others_open(enrollment: Enrollment):
    return (
        Enrollment.objects.for_utility(enrollment.utility)
        .filter(state__in=OPEN_STATES)
        .exclude(pk=enrollment.pk)
    )


def check_territory(enrollment, rules, **_) -> RuleOutcome:
    utility = enrollment.utility
    if utility.serves(state=enrollment.state_code, zip_code=enrollment.zip_code):
        return RuleOutcome(EligibilityRule.TERRITORY, True, "The address is in our service area.")
    return RuleOutcome(
        EligibilityRule.TERRITORY,
        False,
        f"{utility.display_name} does not serve ZIP {enrollment.zip_code} in "
        f"{enrollment.state_code}.",
    )


def check_account_format(enrollment, rules, **_) -> RuleOutcome:
    if account_well_formed(rules=rules, account_number=enrollment.account_number):
        return RuleOutcome(EligibilityRule.ACCOUNT_FORMAT, True, "The account number is valid.")
    return RuleOutcome(
        EligibilityRule.ACCOUNT_FORMAT,
        False,
        f"The account number is not in the expected form ({rules.account_number_hint}).",
    )


def check_whitelist(enrollment, rules, entry, **_) -> RuleOutcome:
    if not rules.whitelist_required:
        return RuleOutcome(EligibilityRule.WHITELIST, True, "This program takes any account.")
    if entry is not None:
        return RuleOutcome(EligibilityRule.WHITELIST, True, "The account is on the program list.")
    return RuleOutcome(
        EligibilityRule.WHITELIST,
        False,
        "The account is not on this program's list of eligible accounts.",
    )


def check_qualified_model(enrollment, rules, equipment, **_) -> RuleOutcome:
    if equipment is not None:
        return RuleOutcome(
            EligibilityRule.QUALIFIED_MODEL, True, f"{equipment} is on the qualified list."
        )
    return RuleOutcome(
        EligibilityRule.QUALIFIED_MODEL,
        False,
        f"{enrollment.vendor_name} {enrollment.model_name} is not on the program's "
        "qualified equipment list.",
    )


def check_min_kw(enrollment, rules, equipment, **_) -> RuleOutcome:
    if equipment is None:
        return RuleOutcome(EligibilityRule.MIN_KW, False, "Unknown model: no power rating.")
    kw = Decimal(equipment.nameplate_w) / 1000
    if kw >= rules.min_kw:
        return RuleOutcome(
            EligibilityRule.MIN_KW, True, f"{_n(kw)} kW meets {_n(rules.min_kw)} kW."
        )
    return RuleOutcome(
        EligibilityRule.MIN_KW,
        False,
        f"The battery delivers {_n(kw)} kW; the program needs at least {_n(rules.min_kw)} kW.",
    )


def check_min_kwh(enrollment, rules, equipment, **_) -> RuleOutcome:
    if equipment is None:
        return RuleOutcome(EligibilityRule.MIN_KWH, False, "Unknown model: no energy rating.")
    kwh = Decimal(equipment.nameplate_wh) / 1000
    if kwh >= rules.min_kwh:
        return RuleOutcome(
            EligibilityRule.MIN_KWH, True, f"{_n(kwh)} kWh meets {_n(rules.min_kwh)} kWh."
        )
    return RuleOutcome(
        EligibilityRule.MIN_KWH,
        False,
        f"The battery stores {_n(kwh)} kWh; the program needs at least {_n(rules.min_kwh)} kWh.",
    )


def check_not_enrolled(enrollment, rules, **_) -> RuleOutcome:
    others = _others_open(enrollment)
    same_site = others.filter(program=enrollment.program).filter(
        Q(site_key=enrollment.site_key) | Q(account_number=enrollment.account_number)
    )
    if same_site.exists():
        return RuleOutcome(
            EligibilityRule.NOT_ENROLLED,
            False,
            "This address or account already has an open enrollment in this program.",
        )
    same_battery = others.filter(
        vendor_name__iexact=enrollment.vendor_name, serial__iexact=enrollment.serial
    )
    if same_battery.exists():
        return RuleOutcome(
            EligibilityRule.NOT_ENROLLED,
            False,
            "This battery (serial number) is already enrolled in a program.",
        )
    return RuleOutcome(EligibilityRule.NOT_ENROLLED, True, "No other open enrollment here.")


def check_conflicting_program(enrollment, rules, **_) -> RuleOutcome:
    conflicting = list(rules.conflicting_programs.all())
    if not conflicting:
        return RuleOutcome(EligibilityRule.CONFLICTING_PROGRAM, True, "No conflicting programs.")
    clash = (
        _others_open(enrollment)
        .filter(program__in=conflicting)
        .filter(Q(site_key=enrollment.site_key) | Q(account_number=enrollment.account_number))
        .select_related("program")
        .first()
    )
    if clash is None:
        return RuleOutcome(
            EligibilityRule.CONFLICTING_PROGRAM, True, "Not enrolled in a conflicting program."
        )
    return RuleOutcome(
        EligibilityRule.CONFLICTING_PROGRAM,
        False,
        f"This site is enrolled in {clash.program.name}, which cannot be combined with this "
        "program.",
    )


def check_exclusion(enrollment, rules, entry, **_) -> RuleOutcome:
    if entry is not None and rules.honour_exclusions and entry.excluded:
        why = f": {entry.exclusion_reason}" if entry.exclusion_reason else ""
        return RuleOutcome(
            EligibilityRule.EXCLUSION, False, f"The account is excluded from the program{why}."
        )
    if entry is not None and rules.exclude_medical_baseline and entry.medical_baseline:
        return RuleOutcome(
            EligibilityRule.EXCLUSION,
            False,
            "Accounts on the medical baseline allowance cannot join this program.",
        )
    return RuleOutcome(EligibilityRule.EXCLUSION, True, "No exclusion applies.")


def check_batteries_per_site(enrollment, rules, entry, **_) -> RuleOutcome:
    at_site = _others_open(enrollment).filter(site_key=enrollment.site_key).count() + 1
    limit = rules.max_batteries_per_site
    if at_site <= limit:
        return RuleOutcome(
            EligibilityRule.BATTERIES_PER_SITE, True, f"{at_site} of {limit} allowed at the site."
        )
    if entry is not None and entry.preapproved:
        return RuleOutcome(
            EligibilityRule.BATTERIES_PER_SITE,
            True,
            f"{at_site} batteries at the site, above {limit}, pre-approved.",
        )
    return RuleOutcome(
        EligibilityRule.BATTERIES_PER_SITE,
        False,
        f"This would be battery {at_site} at the site; more than {limit} needs pre-approval "
        "from the program team.",
    )


RULES = (
    check_territory,
    check_account_format,
    check_whitelist,
    check_qualified_model,
    check_min_kw,
    check_min_kwh,
    check_not_enrolled,
    check_conflicting_program,
    check_exclusion,
    check_batteries_per_site,
)


def qualified_equipment_for(*, program, vendor_name: str, model_name: str):
    return (
        QualifiedEquipment.objects.for_utility(program.utility)
        .filter(program=program, vendor_name=vendor_name, model_name=model_name)
        .first()
    )


def evaluate(*, enrollment: Enrollment) -> list[RuleOutcome]:
    """Run every rule of the enrollment's program; nothing is written."""
    rules = rules_for(enrollment.program)
    context = {
        "rules": rules,
        "entry": whitelist_entry(enrollment=enrollment),
        "equipment": qualified_equipment_for(
            program=enrollment.program,
            vendor_name=enrollment.vendor_name,
            model_name=enrollment.model_name,
        ),
    }
    return [rule(enrollment, **context) for rule in RULES]
