"""A one-view URLconf for the mTLS test: answers with the LFDI the app resolved."""

from django.http import HttpResponse
from django.urls import path

from protocol.transport import client_identity_from_request


def echo_client_lfdi(request):
    identity = client_identity_from_request(request)
    if identity is None:
        return HttpResponse(b"no client certificate", status=403, content_type="text/plain")
    return HttpResponse(f"LFDI={identity.lfdi}".encode(), content_type="text/plain")


urlpatterns = [path("sep2-echo", echo_client_lfdi)]
