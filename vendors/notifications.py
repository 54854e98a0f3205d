"""Emails to a vendor organisation's users, rendered from ``vendors/email/<kind>.txt``."""

from django.template.loader import select_template

VENDOR_KINDS = ("vendor_approved", "vendor_rejected", "vendor_suspended", "vendor_invitation")


def render_vendor_notice(*, organization, kind: str, **context) -> tuple[str, str]:
    """Subject and body of an email to a vendor organisation's users (first line: subject)."""
    if kind not in VENDOR_KINDS:
        raise ValueError(f"unknown vendor notice {kind!r}")
    text = select_template([f"vendors/email/{kind}.txt"]).render(
        {"organization": organization, **context}
    )
    subject, _, body = text.strip().partition("\n")
    return subject.strip(), body.strip() + "\n"
