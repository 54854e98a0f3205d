"""A small 2030.5 world for server tests: a utility, a program with a dispatch group,
client certificates mapped to Clients, and body builders."""

from dataclasses import dataclass

from django.utils import timezone

from devices.models import Device
from programs.models import DispatchGroup, Program
from programs.services import participant_add
from protocol import pki, services
from protocol.identity import client_identity_from_der
from protocol.models import Client, EndDevice
from protocol.xml import serialize
from protocol.xml.resources.edev import EndDevice as SepEndDevice
from tests import factories
from tests.protocol.client import SepClient

_CA = None


def ca():
    global _CA
    if _CA is None:
        _CA = pki.create_root_ca()
    return _CA


def identity(cert: pki.Issued):
    return client_identity_from_der(cert.cert_der)


@dataclass
class Actor:
    cert: pki.Issued
    client: Client
    http: SepClient

    @property
    def lfdi(self) -> str:
        return self.client.lfdi


def actor(utility, kind: str = "aggregator", *, program=None, name: str = "") -> Actor:
    cert = pki.create_client_certificate(ca(), name or f"{kind} cert", role=kind)
    ident = identity(cert)
    client = services.client_register(
        utility=utility, lfdi=ident.lfdi, kind=kind, name=name or kind, program=program
    )
    return Actor(cert=cert, client=client, http=SepClient(cert))


def program_with_group(
    utility, *, default_export_limit_w: int | None = None, **fields
) -> tuple[Program, DispatchGroup]:
    """A program and its group; with `default_export_limit_w`, the group's DefaultControl
    limits export to it."""
    program = factories.program(utility, **fields)
    group = factories.dispatch_group(utility, prog=program)
    if default_export_limit_w is not None:
        factories.default_control(utility, group=group, op_mod_exp_lim_w=default_export_limit_w)
    return program, group


def random_lfdi() -> tuple[str, int]:
    """An LFDI and its SFDI, as a device certificate would have (not tied to a cert)."""
    ident = identity(pki.create_client_certificate(ca(), "device", role="device"))
    return ident.lfdi, ident.sfdi


def enrolled_end_device(
    utility, *, client: Client, program: Program, device: Device | None = None
) -> EndDevice:
    """An EndDevice registered by `client`, its device participating in `program`."""
    lfdi, sfdi = random_lfdi()
    device = device or factories.device(utility, lfdi=lfdi, sfdi=sfdi)
    end_device = EndDevice.objects.create(
        utility=utility,
        lfdi=lfdi,
        sfdi=sfdi,
        registered_by=client,
        device=device,
        pin=11111,
        changed_time=timezone.now(),
    )
    participant_add(program=program, device=device)
    return end_device


def end_device_body(lfdi: str, sfdi: int) -> bytes:
    return serialize(SepEndDevice(lfdi=lfdi, sfdi=sfdi, changed_time=0))


def location_id(response) -> int:
    return int(response["Location"].rstrip("/").rsplit("/", 1)[1])
