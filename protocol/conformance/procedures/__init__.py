"""The catalogue of conformance procedures, built from the family modules.

Each family module (discovery, registration, subscription, control, telemetry, security)
declares its `PROCEDURES`; the step framework they are written in is `framework`.
`REGISTRY` holds every procedure by key in run order: a run takes them in this order,
whichever family they come from.
"""

from django.core.exceptions import ImproperlyConfigured

from protocol.conformance.procedures import (
    control,
    discovery,
    registration,
    security,
    subscription,
    telemetry,
)
from protocol.conformance.procedures.framework import Procedure

FAMILIES = (discovery, registration, subscription, control, telemetry, security)

# The client is found and registered before it is judged; default limits and events come
# before the telemetry that shows them; the outage is late so it disturbs nothing else.
RUN_ORDER = (
    "discovery",
    "time_sync",
    "registration",
    registration.PIN_MISMATCH,  # always before registration_oob (run_create checks)
    "registration_oob",
    "fsa_polling",
    "default_control",
    "storage_ratings",
    "status_availability",
    "scheduled_event",
    "cancellation",
    "supersession",
    "overlapping_events",
    "randomized_start",
    "opt_out",
    "discharge_setpoint",
    "charge_setpoint",
    "export_limit",
    "telemetry_cadence",
    "communication_loss",
    "certificate_misuse",
)


def _catalogue() -> dict[str, Procedure]:
    """Every family's procedures by key, in RUN_ORDER; each key declared exactly once."""
    declared: dict[str, Procedure] = {}
    for family in FAMILIES:
        for procedure in family.PROCEDURES:
            if procedure.key in declared:
                raise ImproperlyConfigured(f"conformance procedure {procedure.key} declared twice")
            declared[procedure.key] = procedure
    if set(declared) != set(RUN_ORDER) or len(RUN_ORDER) != len(declared):
        raise ImproperlyConfigured("RUN_ORDER must list every conformance procedure once")
    return {key: declared[key] for key in RUN_ORDER}


REGISTRY: dict[str, Procedure] = _catalogue()


def procedures_for(profile: str) -> list[Procedure]:
    return [p for p in REGISTRY.values() if profile in p.profiles]
