"""The seam to the 2030.5 side: what vendors needs from `protocol`, which fills it in.

`protocol` registers its conformance engine here from its AppConfig.ready(), so vendors
never imports the wire side: the procedure catalogue (key → procedure with `title`,
`pass_criterion`, `steps`), how a run is created, started, reported and timed, the
2030.5-shaped CA hierarchy, and how an issued certificate's client is let into (or out
of) a sandbox.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class ConformanceEngine:
    """The 2030.5 side of onboarding, as vendors uses it."""

    procedures: Mapping[str, Any]
    parameters_check: Callable[[dict], Any]
    run_create: Callable[..., Any]
    run_start: Callable[..., Any]
    run_timeline: Callable[[Any], list[dict]]
    run_report: Callable[[Any], dict]
    client_kinds: tuple[str, ...]
    # The 2030.5-shaped CA hierarchy; each returns an object with `certificate` and `key`.
    ca_root_create: Callable[..., Any]
    ca_intermediate_create: Callable[..., Any]
    # (utility, certificate_der, kind, name, program, cert_not_after) → (lfdi, sfdi)
    sandbox_client_register: Callable[..., tuple[str, int]]
    sandbox_client_revoke: Callable[..., None]
    # certificate DER → (lfdi, sfdi): the 2030.5 identity a certificate carries.
    certificate_identity: Callable[[bytes], tuple[str, int]]
    # (utility_id, lfdis, program_ids) → when one of those clients last called a sandbox
    sandbox_client_last_seen: Callable[..., Any]


_engine: ConformanceEngine | None = None


def engine_register(engine: ConformanceEngine) -> None:
    global _engine
    _engine = engine


def engine() -> ConformanceEngine:
    if _engine is None:
        raise ImproperlyConfigured("No conformance engine registered (is `protocol` installed?).")
    return _engine
