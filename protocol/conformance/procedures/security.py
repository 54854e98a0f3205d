"""Security: a certificate reaches only its own EndDevices' resources."""

from protocol.conformance.procedures.framework import Context, Procedure, Step, StepFailed
from protocol.managers.edev import END_DEVICE_LIST_HREF, edev_href


def step_no_foreign_access(ctx: Context) -> bool:
    own = {edev_href(pk) for pk in ctx.end_devices().values_list("pk", flat=True)}
    leaked = [
        r
        for r in ctx.records()
        .filter(path__startswith=f"{END_DEVICE_LIST_HREF}/")
        .values("path", "status")
        if r["path"].split("?")[0].split("/derp")[0].split("/der/")[0] not in own
        and "/".join(r["path"].split("/")[:3]) not in own
        and r["status"] < 400
    ]
    ctx.evidence["foreign_requests_answered"] = leaked[:10]
    if leaked:
        raise StepFailed(f"{len(leaked)} requests for another device's resources succeeded")
    return True


PROCEDURES = (
    Procedure(
        "certificate_misuse",
        "Certificate misuse refused",
        "Security",
        [Step("no foreign resource answered", step_no_foreign_access, timeout_s=10)],
        "No request by this certificate for another device's resources was answered "
        "with success (the server answers 404).",
    ),
)
