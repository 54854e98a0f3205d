"""System checks for the 2030.5 server's per-install settings."""

from django.conf import settings
from django.core import checks

DOCUMENTATION_PEN = 32473  # RFC 5612: the enterprise number IANA keeps for examples
MAX_PEN = 0xFFFFFFFF  # the 8 hex digits an mRID ends in


def iana_pen() -> int | None:
    """SEP2_IANA_PEN as an int, or None when it is not a PEN (the check says why)."""
    value = str(getattr(settings, "SEP2_IANA_PEN", "")).strip()
    if not value.isdigit():
        return None
    pen = int(value)
    return pen if 0 < pen <= MAX_PEN else None


@checks.register("sep2")
def iana_pen_check(app_configs, **kwargs):
    if iana_pen() is None:
        return [
            checks.Error(
                f"SEP2_IANA_PEN={getattr(settings, 'SEP2_IANA_PEN', '')!r} is not an IANA "
                "Private Enterprise Number.",
                hint="Set it to your organisation's PEN in decimal, 1 to 4294967295.",
                id="protocol.E001",
            )
        ]
    return []


@checks.register("sep2", deploy=True)
def iana_pen_deploy_check(app_configs, **kwargs):
    if iana_pen() == DOCUMENTATION_PEN:
        return [
            checks.Warning(
                "SEP2_IANA_PEN is 32473, the number IANA keeps for documentation.",
                hint="Every mRID this server makes ends in it: set your organisation's own PEN.",
                id="protocol.W001",
            )
        ]
    return []
