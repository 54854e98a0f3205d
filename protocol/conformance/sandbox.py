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


def sandbox_client_last_seen(*, utility_id: int, lfdis: list[str], program_ids: list[int]):
    """When any of these certificates' clients last made a request to one of these sandbox
    programs (None if never): the vendor's client is connected."""
    if not lfdis or not program_ids:
        return None
    return (
        Client.objects.filter(
            utility_id=utility_id,
            lfdi__in=lfdis,
            program_id__in=program_ids,
            revoked=False,
            last_seen_at__isnull=False,
        )
        .order_by("-last_seen_at")
        .values_list("last_seen_at", flat=True)
        .first()
    )
