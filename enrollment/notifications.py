"""Emails to customers about their enrollment, rendered from per-utility templates.

A utility may override any notice with ``enrollment/email/<utility-slug>/<kind>.txt``;
otherwise ``enrollment/email/<kind>.txt`` is used. The first line is the subject.
"""

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import select_template

from enrollment.models import Enrollment

KINDS = ("received", "approved", "rejected", "active", "opt_out")


def render_notice(*, enrollment: Enrollment, kind: str, **context) -> tuple[str, str]:
    if kind not in KINDS:
        raise ValueError(f"unknown notice {kind!r}")
    utility = enrollment.utility
    template = select_template(
        [f"enrollment/email/{utility.slug}/{kind}.txt", f"enrollment/email/{kind}.txt"]
    )
    rates = getattr(enrollment.program, "incentive_rates", None)
    text = template.render(
        {
            "enrollment": enrollment,
            "utility": utility,
            "program": enrollment.program,
            "rates": rates,
            **context,
        }
    )
    subject, _, body = text.strip().partition("\n")
    return subject.strip(), body.strip() + "\n"


def enrollment_email_send(*, enrollment_id: int, kind: str, **context) -> bool:
    enrollment = (
        Enrollment.objects.select_related("utility", "program").filter(pk=enrollment_id).first()
    )
    if enrollment is None or not enrollment.email:
        return False
    subject, body = render_notice(enrollment=enrollment, kind=kind, **context)
    sender_name = enrollment.utility.display_name
    send_mail(
        subject,
        body,
        f"{sender_name} <{settings.CUSTOMER_FROM_ADDRESS}>",
        [enrollment.email],
    )
    return True
