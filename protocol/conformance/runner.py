"""Runs conformance procedures step by step: a resumable machine whose state is the run.

`run_start` turns recording on for the run's client; `run_advance` does whatever is due
now and returns whether the run has finished. The Celery task calls it in a loop; tests
call it between their scripted client's turns. Every call is idempotent and resumes
from `run.cursor`, so a worker that dies halfway loses nothing.
"""

import logging
from datetime import datetime
from typing import cast

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from programs.models import DispatchGroup, Program
from protocol.conformance.procedures import REGISTRY, procedures_for
from protocol.conformance.procedures.framework import (
    Context,
    StepFailed,
    StepSkipped,
    cleanup_event,
)
from protocol.conformance.procedures.registration import PIN_MISMATCH, oob_parameters
from protocol.conformance.sandbox import client_for
from protocol.models import Client, ExchangeRecord
from vendors.choices import ApplicationStatus, RunStatus
from vendors.models import ConformanceRun, VendorApplication
from vendors.signals import conformance_run_progressed

logger = logging.getLogger(__name__)


def topic(run: ConformanceRun) -> str:
    return f"conformance.{run.pk}"


@transaction.atomic
def run_create(
    *,
    application: VendorApplication,
    procedures: list[str] | None = None,
    time_scale: float = 1.0,
    parameters: dict | None = None,
    actor=None,
) -> ConformanceRun:
    """A queued run of `procedures` (default: every one of the sandbox's profile).

    `parameters` carries what the vendor supplies for some procedures: `oob_lfdi` and
    `oob_pin` for out-of-band registration (the PIN's last digit is its check digit).
    """
    certificate = application.certificates.filter(revoked=False).order_by("-created_at").first()
    if certificate is None:
        raise ValidationError("Issue a certificate before running conformance procedures.")
    profile = _sandbox_program(application).profile
    keys = procedures or [p.key for p in procedures_for(profile)]
    unknown = [k for k in keys if k not in REGISTRY]
    if unknown:
        raise ValidationError(f"Unknown procedures: {', '.join(unknown)}")
    if not 0.001 <= time_scale <= 10:
        raise ValidationError("time_scale must be between 0.001 and 10.")
    if "registration_oob" in keys and PIN_MISMATCH in keys:
        if keys.index(PIN_MISMATCH) > keys.index("registration_oob"):
            # Both use the same EndDevice: the wrong PIN must come first, then the right one.
            raise ValidationError(f"{PIN_MISMATCH} must run before registration_oob.")
    parameters = parameters or {}
    oob_parameters(parameters)  # refuses a malformed LFDI or a PIN with a wrong check digit
    run = ConformanceRun(
        utility=application.utility,
        application=application,
        certificate=certificate,
        procedures=keys,
        time_scale=time_scale,
        parameters=parameters,
        started_by=actor,
    )
    run.full_clean()
    run.save()
    return run


def _sandbox_program(application: VendorApplication) -> Program:
    # Typed as present: provisioning gives every sandbox application its program (only
    # deleting the program empties it, and nothing here checks for that).
    return cast(Program, application.sandbox_program)


def _client(run: ConformanceRun) -> Client:
    client = client_for(run.certificate)
    if client is None:
        raise ValidationError("The run's certificate has no 2030.5 client.")
    return client


@transaction.atomic
def run_start(*, run: ConformanceRun, now: datetime | None = None) -> ConformanceRun:
    """Start recording the client's requests; steps begin at the next advance."""
    now = now or timezone.now()
    client = _client(run)
    Client.objects.filter(pk=client.pk).update(recording_run_id=run.pk)
    run.status = RunStatus.RUNNING
    run.started_at = now
    run.cursor = {"p": 0, "s": 0, "since": now.isoformat(), "state": {}}
    run.results = {
        key: {"title": REGISTRY[key].title, "status": "pending", "steps": []}
        for key in run.procedures
    }
    program = _sandbox_program(run.application)
    group = DispatchGroup.objects.for_utility(run.utility_id).filter(program=program).first()
    for key in run.procedures:
        setup = REGISTRY[key].setup
        if setup is not None:
            setup(Context(run, client, program, group, now, {}, {}))
    run.save()
    application = run.application
    if application.status in (ApplicationStatus.SUBMITTED, ApplicationStatus.DRAFT):
        application.status = ApplicationStatus.TESTING
        application.save(update_fields=["status"])
    return run


def _progress(run: ConformanceRun) -> int:
    total = sum(len(REGISTRY[k].steps) for k in run.procedures) or 1
    done = sum(len(REGISTRY[k].steps) for k in run.procedures[: run.cursor["p"]])
    return min(100, int(100 * (done + run.cursor.get("s", 0)) / total))


def _finish(run: ConformanceRun, now: datetime) -> None:
    # A skipped procedure (e.g. no out-of-band parameters given) does not fail the run.
    passed = all(r["status"] in ("passed", "skipped") for r in run.results.values())
    run.status = RunStatus.PASSED if passed else RunStatus.FAILED
    run.finished_at = now
    run.progress_pct = 100
    Client.objects.filter(recording_run_id=run.pk).update(recording_run_id=None)
    application = run.application
    if passed and application.status == ApplicationStatus.TESTING:
        application.status = ApplicationStatus.PASSED
        application.conformance_passed = True
        application.save(update_fields=["status", "conformance_passed"])


def _label(key: str, index: int) -> str:
    return f"{key}:{index}"


@transaction.atomic
def run_advance(*, run_id: int, now: datetime | None = None) -> bool:
    """Do what is due; True when the run has finished."""
    run = ConformanceRun.objects.select_for_update().get(pk=run_id)
    if run.finished:
        return True
    now = now or timezone.now()
    client = _client(run)
    program = _sandbox_program(run.application)
    group = DispatchGroup.objects.for_utility(run.utility_id).filter(program=program).first()
    while run.cursor["p"] < len(run.procedures):
        key = run.procedures[run.cursor["p"]]
        procedure = REGISTRY[key]
        result = run.results[key]
        result["status"] = "running"
        step = procedure.steps[run.cursor["s"]]
        since = cast(datetime, parse_datetime(run.cursor["since"]))  # isoformat() wrote it
        evidence = result.setdefault("evidence", {})
        ctx = Context(run, client, program, group, now, run.cursor["state"], evidence)
        outcome, reason = "", ""
        try:
            done = step.fn(ctx)
        except StepFailed as exc:
            outcome, reason = "failed", str(exc)
        except StepSkipped as exc:
            outcome, reason = "skipped", str(exc)
        except ValidationError as exc:
            outcome, reason = "failed", f"server refused the step: {' '.join(exc.messages)}"
        else:
            if done:
                outcome = "passed"
            elif (now - since) > ctx.scaled(step.timeout_s):
                outcome, reason = "failed", step.on_timeout
        if not outcome:
            break  # wait for the client
        label = _label(key, run.cursor["s"])
        ExchangeRecord.objects.filter(run_id=run.pk, step="", at__lte=now).update(step=label)
        result["steps"].append(
            {
                "title": step.title,
                "status": outcome,
                "reason": reason,
                "started": since.isoformat(),
                "finished": now.isoformat(),
                "label": label,
            }
        )
        run.cursor["since"] = now.isoformat()
        if outcome != "passed" or run.cursor["s"] + 1 >= len(procedure.steps):
            result["status"] = outcome
            result["reason"] = reason
            if outcome == "failed":
                # Leave no live event behind a failed procedure.
                _cleanup(ctx)
            run.cursor = {"p": run.cursor["p"] + 1, "s": 0, "since": now.isoformat(), "state": {}}
        else:
            run.cursor["s"] += 1
    if run.cursor["p"] >= len(run.procedures):
        _finish(run, now)
    else:
        run.progress_pct = _progress(run)
    run.save()
    transaction.on_commit(lambda: conformance_run_progressed.send(sender=ConformanceRun, run=run))
    return run.finished


def _cleanup(ctx: Context) -> None:
    try:
        cleanup_event(ctx)
    except ValidationError:
        logger.warning("conformance: could not cancel the event of run %s", ctx.run.pk)


def run_timeline(run: ConformanceRun) -> list[dict]:
    """The client's requests during the run, each tied to the step it fell in."""
    return list(
        ExchangeRecord.objects.filter(run_id=run.pk)
        .order_by("at", "pk")
        .values("at", "step", "method", "path", "status", "duration_ms", "body_excerpt")[:2000]
    )


def run_report(run: ConformanceRun) -> dict:
    """The downloadable report: verdicts, evidence and the timeline."""
    return {
        "run": run.pk,
        "application": run.application_id,
        "organization": run.application.organization.name,
        "program": run.application.program.name,
        "status": run.status,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "time_scale": run.time_scale,
        "procedures": [
            {
                "key": key,
                "title": REGISTRY[key].title,
                "pass_criterion": REGISTRY[key].pass_criterion,
                **run.results.get(key, {}),
            }
            for key in run.procedures
        ],
        "timeline": [{**row, "at": row["at"].isoformat()} for row in run_timeline(run)],
    }
