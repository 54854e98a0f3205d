"""Starting runs: create, start recording, and queue the driving task after commit."""

from django.db import transaction

from enrollment.models import ConformanceRun, VendorApplication
from enrollment.services import vendor_organization_check_approved
from enrollment.vendor import Capability, vendor_capability_check
from protocol.conformance.runner import run_create, run_start
from protocol.jobs import CONFORMANCE_RUN, job_queue


@transaction.atomic
def conformance_run_launch(
    *,
    application: VendorApplication,
    procedures: list[str] | None = None,
    time_scale: float = 1.0,
    parameters: dict | None = None,
    actor=None,
) -> ConformanceRun:
    """A new run (earlier runs stay as history), driven by a Celery task.

    Only for an approved organisation, and, when a user asks (`actor`), one whose role
    may test.
    """
    if actor is not None:
        vendor_capability_check(
            user=actor, organization=application.organization, capability=Capability.TEST
        )
    vendor_organization_check_approved(organization=application.organization)
    run = run_create(
        application=application,
        procedures=procedures,
        time_scale=time_scale,
        parameters=parameters,
        actor=actor,
    )
    run_start(run=run)
    job_queue(CONFORMANCE_RUN, run.pk)
    return run
