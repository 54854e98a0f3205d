"""A connection point (CSIP-AUS ConnectionPoint) is an NMI, checked as AEMO defines one."""

import pytest
from django.core.exceptions import ValidationError

from devices.nmi import nmi_checksum, validate_nmi
from devices.services import device_set_connection_point
from tests import factories

# The worked examples of AEMO's National Metering Identifier Procedure (checksum appendix).
AEMO_EXAMPLES = [
    ("2001985732", 8),
    ("2001985733", 6),
    ("3075621875", 8),
    ("3075621876", 6),
    ("4316854005", 9),
    ("4316854006", 7),
    ("QAAAVZZZZZ", 3),
    ("QCDWW00010", 2),
    ("SMVEW00085", 8),
    ("VAAA000065", 7),
    ("VAAA000066", 5),
    ("VAAA000067", 2),
]


@pytest.mark.parametrize(("nmi", "checksum"), AEMO_EXAMPLES)
def test_checksum_agrees_with_aemos_examples(nmi, checksum):
    assert nmi_checksum(nmi) == checksum
    validate_nmi(nmi)
    validate_nmi(f"{nmi}{checksum}")
    with pytest.raises(ValidationError, match="checksum"):
        validate_nmi(f"{nmi}{(checksum + 1) % 10}")


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("NOTAVALIDID", "I or O"),
        ("4102O00000", "I or O"),
        ("410200000", "10 characters"),
        ("", "10 characters"),
        ("9" * 33, "10 characters"),
        ("4102-00000", "digits and capital letters"),
        ("vaaa000065", "digits and capital letters"),
        ("VAAA000065X", "checksum"),
    ],
)
def test_what_is_not_an_nmi_is_refused_with_the_reason(value, says):
    with pytest.raises(ValidationError, match=says):
        validate_nmi(value)


def test_checksum_needs_the_ten_character_nmi():
    with pytest.raises(ValueError):
        nmi_checksum("41020000002")


@pytest.mark.django_db
def test_the_site_keeps_no_connection_point_that_is_not_an_nmi(utility_a):
    device = factories.device(utility_a)
    device_set_connection_point(device=device, connection_point_id=" 41020000002 ")
    with pytest.raises(ValidationError, match="checksum"):
        device_set_connection_point(device=device, connection_point_id="41020000003")
    device.refresh_from_db()
    assert device.connection_point_id == "41020000002"
    # The admin's form runs the model's validation: the same rule holds there.
    device.connection_point_id = "NOTAVALIDID"
    with pytest.raises(ValidationError):
        device.full_clean()
