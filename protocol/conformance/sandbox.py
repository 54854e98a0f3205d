"""The 2030.5 side of vendor sandboxes: the client an issued certificate lets in, and out.

`vendors` reaches these through `vendors.registry` (registered in protocol's
AppConfig.ready()); it never imports `protocol`.
"""

from datetime import datetime

from protocol.identity import client_identity_from_der
from protocol.models import Client
from protocol.services import client_register, client_revoke


def sandbox_client_register(
    *, utility, certificate_der: bytes, kind: str, name: str, program, cert_not_after: datetime
) -> tuple[str, int]:
    """Map the certificate's client to the sandbox program; its (LFDI, SFDI)."""
    identity = client_identity_from_der(certificate_der)
    client_register(
        utility=utility,
        lfdi=identity.lfdi,
        sfdi=identity.sfdi,
        kind=kind,
        name=name,
        program=program,
        cert_not_after=cert_not_after,
    )
    return identity.lfdi, identity.sfdi


def certificate_identity(certificate_der: bytes) -> tuple[str, int]:
    """The (LFDI, SFDI) a certificate carries."""
    identity = client_identity_from_der(certificate_der)
    return identity.lfdi, identity.sfdi


def sandbox_client_revoke(*, utility_id: int, lfdi: str, now: datetime) -> None:
    """Refuse the certificate's client from the next request on."""
    client = Client.objects.for_utility(utility_id).filter(lfdi=lfdi).first()
    if client is not None and not client.revoked:
        client_revoke(client=client, now=now)


def client_for(certificate) -> Client | None:
    """The 2030.5 client of an issued certificate."""
    return Client.objects.for_utility(certificate.utility_id).filter(lfdi=certificate.lfdi).first()
