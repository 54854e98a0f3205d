"""Login hardening: the client's address behind the proxy, the API token door, reset limits.

django-axes counts failed logins (username + address) for every door that calls
``authenticate``: the portal login form and ``/api/v1/auth/token/``. Password-reset posts are
counted here, in the database, so every ASGI worker sees the same count.
"""

import ipaddress
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.shortcuts import render
from django.utils import timezone
from rest_framework import status
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from portal.models import PasswordResetRequest

LOCKOUT_MESSAGE = (
    "Too many failed login attempts for this account from your address. "
    "Try again in 15 minutes, or ask a Reservoir administrator to unlock it."
)
RESET_WINDOW = timedelta(hours=1)
RESETS_PER_EMAIL = 3
RESETS_PER_ADDRESS = 10


def _trusted_proxy(peer: str) -> bool:
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    for entry in getattr(settings, "SEP2_TRUSTED_PROXIES", []):
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def client_address(request) -> str | None:
    """REMOTE_ADDR, or the X-Forwarded-For that our own proxy set (it overwrites the header)."""
    peer = request.META.get("REMOTE_ADDR") or None
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if peer and forwarded and _trusted_proxy(peer):
        candidate = forwarded.split(",")[-1].strip()
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            return peer
    return peer


class ApiTokenView(ObtainAuthToken):
    """POST username and password for an API token; guessers are locked out like at the portal."""

    parser_classes = [JSONParser]  # as every /api/v1 body (settings.REST_FRAMEWORK)

    def post(self, request, *args, **kwargs):
        serializer = self.serializer_class(data=request.data, context={"request": request})
        valid = serializer.is_valid()
        # axes flags the request it was handed (this DRF request) once the limit is reached.
        if getattr(request, "axes_locked_out", False):
            return Response({"detail": LOCKOUT_MESSAGE}, status=status.HTTP_429_TOO_MANY_REQUESTS)
        if not valid:
            return Response(serializer.errors, status=status.HTTP_400_BAD_REQUEST)
        return super().post(request, *args, **kwargs)


class RateLimitedPasswordResetView(auth_views.PasswordResetView):
    """Django's reset form, refusing more than a few posts an hour per email and per address."""

    def post(self, request, *args, **kwargs):
        address = client_address(request)
        email = str(request.POST.get("email", ""))[:254].strip().lower()
        since = timezone.now() - RESET_WINDOW
        recent = PasswordResetRequest.objects.filter(at__gte=since)
        if (address and recent.filter(address=address).count() >= RESETS_PER_ADDRESS) or (
            email and recent.filter(email=email).count() >= RESETS_PER_EMAIL
        ):
            return render(request, "registration/password_reset_limited.html", status=429)
        PasswordResetRequest.objects.create(address=address, email=email)
        PasswordResetRequest.objects.filter(at__lt=since - RESET_WINDOW).delete()
        return super().post(request, *args, **kwargs)
