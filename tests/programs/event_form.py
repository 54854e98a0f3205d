"""Posting the portal's event form as a program manager does (shared by the form tests)."""

from datetime import timedelta
from zoneinfo import ZoneInfo

from django.urls import reverse
from django.utils import timezone


def event_form_post(web, group, kind: str, **fields):
    """POST the new-event form for `group`: a 30-minute event two days ahead, in the test
    utility's zone, with `fields` (the kind's mode inputs) on top."""
    start = (timezone.now() + timedelta(days=2)).astimezone(ZoneInfo("America/Los_Angeles"))
    data = {
        "group": group.pk,
        "kind": kind,
        "purpose": "peak",
        "start_local": start.strftime("%Y-%m-%dT%H:%M"),
        "duration_min": 30,
        "selection": "all",
        "setpoint_rule": "pro_rata",
        "randomize_start_s": 0,
        "randomize_duration_s": 0,
        **fields,
    }
    return web.post(reverse("programs:event-create"), data)
