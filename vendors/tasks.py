"""Emails to vendor organisations. Tasks are thin."""

from celery import shared_task
from django.core.mail import send_mail


@shared_task(name="vendors.notify", expires=3600)
def vendor_notify(recipients: list[str], subject: str, body: str) -> None:
    """Email a vendor organisation's users."""
    send_mail(subject, body, None, recipients)
