"""The one-click opt-out from an event email: no login. A GET only shows what will happen
(mail scanners and link previews open links); the opt-out is the confirmation's POST."""

from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.http import HttpResponseNotAllowed
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache

from enrollment import services
from enrollment.opt_out_links import LinkRefused, opt_out_notice
from programs.rules import opt_out_refusal


def _when(moment, tz: ZoneInfo) -> str:
    local = moment.astimezone(tz)
    return f"{local:%A} {local.day} {local:%B %Y, %H:%M} {local.tzname()}"


@never_cache
def opt_out_link(request, token: str):
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    now = timezone.now()
    try:
        notice = opt_out_notice(token, now=now)
    except LinkRefused as refused:
        return render(
            request,
            "enrollment/opt_out_link.html",
            {"refusal": refused.reason, "utility": None},
            status=refused.status,
        )
    utility = notice.utility
    tz = ZoneInfo(utility.timezone)
    context = {
        "utility": utility,
        "notice": notice,
        "event": notice.event,
        "program": notice.event.program,
        "starts": _when(notice.event.start, tz),
        "hide_nav": True,
    }
    if notice.used_at is not None:
        context["refusal"] = (
            f"This link was already used on {_when(notice.used_at, tz)}: your battery is "
            "opted out of this event. Each link works once."
        )
        return render(request, "enrollment/opt_out_link.html", context, status=410)
    if request.method == "GET":
        refusal = opt_out_refusal(event=notice.event, device=notice.device, now=now)
        if refusal:
            context["refusal"] = refusal
            return render(request, "enrollment/opt_out_link.html", context, status=409)
        return render(request, "enrollment/opt_out_link.html", context)
    try:
        services.event_notice_opt_out(notice=notice, now=now)
    except ValidationError as exc:
        context["refusal"] = " ".join(exc.messages)
        return render(request, "enrollment/opt_out_link.html", context, status=409)
    context["done"] = True
    return render(request, "enrollment/opt_out_link.html", context)
