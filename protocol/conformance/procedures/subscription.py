"""Keeping up with the server: polling FunctionSetAssignments and DERControlList at
the program's pollRate, and resuming after the server was away."""

import itertools

from protocol.conformance.procedures.framework import (
    DELIVERY,
    EVENT_WAIT,
    Context,
    Procedure,
    Step,
    StepFailed,
    cleanup_event,
)
from protocol.managers.mirror import MIRROR_USAGE_POINT_LIST_HREF
from protocol.models import Client

OUTAGE_S = 60  # scaled seconds the server answers 503 in communication_loss


def step_fsa_walked(ctx: Context) -> bool:
    return ctx.records().filter(method="GET", path__regex=r"^/edev/[0-9]+/fsa", status=200).exists()


def step_polls_programs(ctx: Context) -> bool:
    polls = list(
        ctx.records()
        .filter(method="GET", path__regex=r"^/edev/[0-9]+/derp/[0-9]+/derc", status=200)
        .values_list("at", flat=True)
    )
    if len(polls) < 3:
        return False
    limit = ctx.program.poll_rate_s * ctx.run.time_scale * 1.5
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(polls)]
    ctx.evidence["poll_gaps_s"] = [round(g, 2) for g in gaps[:20]]
    if max(gaps) > limit:
        raise StepFailed(f"DERControlList polled {max(gaps):.0f} s apart; limit {limit:.0f} s")
    return True


def start_outage(ctx: Context) -> bool:
    if not ctx.state.get("outage"):
        until = ctx.now + ctx.scaled(OUTAGE_S)
        Client.objects.filter(pk=ctx.client.pk).update(outage_until=until)
        ctx.state["outage"] = True
        ctx.state["outage_from"] = ctx.now.isoformat()
        ctx.state["outage_until"] = until.isoformat()
        ctx.evidence["outage"] = [ctx.now.isoformat(), until.isoformat()]
    return True


def step_outage_over(ctx: Context) -> bool:
    if ctx.now.isoformat() < ctx.state["outage_until"]:
        return False
    refused = ctx.records().filter(status=503, at__gte=ctx.state["outage_from"])
    ctx.evidence["requests_answered_503"] = refused.count()
    return True


def step_recovered(ctx: Context) -> bool:
    after = ctx.records().filter(at__gte=ctx.state["outage_until"])
    polled = after.filter(
        method="GET", path__regex=r"^/edev/[0-9]+/derp/[0-9]+/derc", status=200
    ).exists()
    posted = after.filter(
        method="POST", path__startswith=f"{MIRROR_USAGE_POINT_LIST_HREF}/", status__lt=300
    ).exists()
    ctx.evidence["resumed"] = {"polling": polled, "telemetry": posted}
    return polled and posted


PROCEDURES = (
    Procedure(
        "fsa_polling",
        "FSA and DERProgram polling",
        "Core",
        [
            Step("walks FunctionSetAssignments", step_fsa_walked, on_timeout="no FSA GET"),
            # Three polls at the program's rate take 2 poll periods; allow 4.
            Step("polls DERControlList", step_polls_programs, 1200, "fewer than 3 polls"),
        ],
        "FSA is read; DERControlList is polled at least 3 times, never slower than the "
        "program's pollRate times 1.5.",
    ),
    Procedure(
        "communication_loss",
        "Communication loss: recovers",
        "Resilience",
        [
            Step("the server goes away (503)", start_outage, timeout_s=10),
            Step("outage over", step_outage_over, EVENT_WAIT),
            Step("polling and telemetry resume", step_recovered, DELIVERY, "did not resume"),
            Step("clean up", cleanup_event, timeout_s=10),
        ],
        f"The server answers 503 with Retry-After to this client for {OUTAGE_S} s (scaled); "
        "within the delivery window after it the client polls DERControlList and posts "
        "telemetry again.",
    ),
)
