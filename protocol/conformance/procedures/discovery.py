"""Discovery: the client walks from /dcap and reads the server's time."""

from protocol.conformance.procedures.framework import Context, Procedure, Step, StepFailed
from protocol.managers.dcap import DEVICE_CAPABILITY_HREF
from protocol.managers.edev import END_DEVICE_LIST_HREF
from protocol.managers.time import TIME_HREF


def _is_edev_path(path: str) -> bool:
    return path.startswith(END_DEVICE_LIST_HREF)


def step_discovery(ctx: Context) -> bool:
    records = list(ctx.records().order_by("at", "pk").values("method", "path", "status"))
    first_edev = next((i for i, r in enumerate(records) if _is_edev_path(r["path"])), None)
    if first_edev is None:
        return False
    walked = any(
        r["method"] == "GET" and r["path"].startswith(DEVICE_CAPABILITY_HREF) and r["status"] == 200
        for r in records[:first_edev]
    )
    ctx.evidence["first_edev_request"] = records[first_edev]
    if not walked:
        raise StepFailed("the client used /edev without first GETting /dcap (hard-coded URL)")
    return True


def step_time_sync(ctx: Context) -> bool:
    hit = ctx.records().filter(method="GET", path__startswith=TIME_HREF, status=200).first()
    if hit:
        ctx.evidence["time_request_at"] = hit.at.isoformat()
    return hit is not None


PROCEDURES = (
    Procedure(
        "discovery",
        "Discovery from /dcap",
        "Core",
        [
            Step(
                "walks from /dcap to /edev",
                step_discovery,
                on_timeout="the client never reached /edev",
            )
        ],
        "The client's first /edev request is preceded by a GET /dcap answered 200.",
    ),
    Procedure(
        "time_sync",
        "Time synchronisation",
        "Core",
        [Step("GET /tm", step_time_sync, on_timeout="the client never read /tm")],
        "The client GETs /tm during the run.",
    ),
)
