"""National Metering Identifiers: what a CSIP-AUS ConnectionPoint names.

AEMO's National Metering Identifier Procedure defines an NMI as 10 characters, digits and
capital letters other than I and O (they read as 1 and 0), with a checksum digit computed
from it (the procedure's checksum appendix). A connection point may be sent with or
without that checksum; when it is sent, it must be right. We check the form only: which
network a prefix belongs to is AEMO's allocation list, which changes, and is not ours.
"""

import re

from django.core.exceptions import ValidationError

NMI_LENGTH = 10
_NMI_CHARACTERS = re.compile(r"[0-9A-Z]*")


def nmi_checksum(nmi: str) -> int:
    """The checksum digit of a 10-character NMI (AEMO's Luhn variant over ASCII codes).

    From the right, every other character's ASCII code is doubled, starting with the
    rightmost; the decimal digits of all the codes are summed; the checksum brings that sum
    up to the next multiple of ten.
    """
    if len(nmi) != NMI_LENGTH:
        raise ValueError(f"an NMI checksum is computed over {NMI_LENGTH} characters")
    total = 0
    for position, character in enumerate(reversed(nmi)):
        code = ord(character) * (2 if position % 2 == 0 else 1)
        total += sum(int(digit) for digit in str(code))
    return (10 - total % 10) % 10


def validate_nmi(value: str) -> None:
    """Refuse, with the reason, what is not an NMI (optionally followed by its checksum)."""
    if len(value) not in (NMI_LENGTH, NMI_LENGTH + 1):
        raise ValidationError(
            f"{value[:40]!r} is not an NMI: an NMI has {NMI_LENGTH} characters, or "
            f"{NMI_LENGTH + 1} with its checksum digit (this has {len(value)}).",
            code="nmi_length",
        )
    nmi = value[:NMI_LENGTH]
    if not _NMI_CHARACTERS.fullmatch(nmi):
        raise ValidationError(
            f"{value!r} is not an NMI: an NMI has only digits and capital letters.",
            code="nmi_characters",
        )
    if "I" in nmi or "O" in nmi:
        raise ValidationError(
            f"{value!r} is not an NMI: an NMI has no letters I or O.", code="nmi_characters"
        )
    if len(value) > NMI_LENGTH and value[NMI_LENGTH] != str(nmi_checksum(nmi)):
        raise ValidationError(
            f"{value!r} is not an NMI: its last character must be the checksum of "
            f"{nmi}, which is {nmi_checksum(nmi)}.",
            code="nmi_checksum",
        )
