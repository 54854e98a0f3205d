"""A Django test client for 2030.5 endpoints.

Every application/sep+xml response it receives is validated against the official schema
before the test sees it, and requests arrive as nginx would forward them: from a trusted
proxy address with the client certificate in X-SSL-Client-Cert and the proxy secret.
"""

from urllib.parse import quote

from django.conf import settings
from django.test import Client

from protocol.pki import Issued
from protocol.xml import SEP_CONTENT_TYPE
from tests.protocol.schema import assert_valid_sep


class SepClient(Client):
    def __init__(self, certificate: Issued | None = None, *, profile: str = "csip", **defaults):
        self.profile = profile
        if certificate is not None:
            defaults.setdefault("REMOTE_ADDR", "127.0.0.1")
            defaults["HTTP_X_SSL_CLIENT_CERT"] = quote(certificate.cert_pem.decode(), safe="")
            defaults["HTTP_X_RESERVOIR_PROXY_SECRET"] = settings.SEP2_PROXY_SECRET
        super().__init__(**defaults)

    def request(self, **request):
        response = super().request(**request)
        content_type = response.get("Content-Type", "").split(";")[0].strip()
        if content_type == SEP_CONTENT_TYPE and response.content:
            assert_valid_sep(response.content, self.profile)
        return response

    def post_sep(self, path: str, body: bytes, **extra):
        return self.post(path, data=body, content_type=SEP_CONTENT_TYPE, **extra)

    def put_sep(self, path: str, body: bytes, **extra):
        return self.put(path, data=body, content_type=SEP_CONTENT_TYPE, **extra)
