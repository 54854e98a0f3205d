import pytest

from tests.protocol.schema import assert_valid_sep, sep_schema


@pytest.fixture(scope="session")
def sep_validator():
    """Compile both schemas once per session and hand back `assert_valid_sep`."""
    sep_schema("csip")
    sep_schema("csipaus")
    return assert_valid_sep
