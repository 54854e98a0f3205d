"""The one-click opt-out link in an event email: signed with ``django.core.signing``,
expiring, and single-use through the ``EventNotice`` it names.

The token carries only the notice's key and an expiry; the notice fixes the enrollment,
event and battery, so nothing in the request can point the link at another device. A
changed byte breaks the signature; a link past its expiry, or older than
``OPT_OUT_LINK_MAX_AGE_S``, is refused even if the signature is good.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.core import signing

from enrollment.models import NOTICE_RELATED, EventNotice

SALT = "enrollment.opt-out-link"


@dataclass(frozen=True)
class LinkRefused(Exception):
    """Why a link cannot be used, in words for the customer, and the HTTP status."""

    reason: str
    status: int


def max_age_s() -> int:
    return int(getattr(settings, "OPT_OUT_LINK_MAX_AGE_S", 30 * 86400))


def opt_out_token(*, notice: EventNotice, expires_at: datetime) -> str:
    return signing.dumps(
        {"k": notice.key.hex, "x": int(expires_at.timestamp())}, salt=SALT, compress=True
    )


def opt_out_notice(token: str, *, now: datetime) -> EventNotice:
    """The notice a token names, or LinkRefused: tampered, expired, or unknown."""
    try:
        data = signing.loads(token, salt=SALT, max_age=max_age_s())
    except signing.SignatureExpired as exc:
        raise LinkRefused(
            "This opt-out link has expired. You can still opt out from your account page "
            "if the event has not started.",
            410,
        ) from exc
    except signing.BadSignature as exc:
        raise LinkRefused(
            "This opt-out link is not valid. Open it from the email exactly as it was sent, "
            "or opt out from your account page.",
            400,
        ) from exc
    if not isinstance(data, dict) or not isinstance(data.get("x"), int):
        raise LinkRefused("This opt-out link is not valid.", 400)
    if now >= datetime.fromtimestamp(data["x"], tz=UTC):
        raise LinkRefused("This opt-out link has expired: the event it was for is over.", 410)
    try:
        key = uuid.UUID(hex=str(data.get("k")))
    except ValueError as exc:
        raise LinkRefused("This opt-out link is not valid.", 400) from exc
    notice = EventNotice.objects.select_related(*NOTICE_RELATED).filter(key=key).first()
    if notice is None:
        raise LinkRefused("This opt-out link is not valid.", 400)
    return notice
