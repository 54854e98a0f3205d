"""The demo 2030.5 endpoint on one machine: a PKI under var/demo/sep2 and an nginx config
that terminates mutual TLS on 127.0.0.1:8443 in front of the local ASGI server."""

import os
from pathlib import Path

from django.conf import settings
from django.db import transaction

from portal import nginx, processes
from portal.demo import credentials_update
from programs.models import Program
from protocol import pki, trust
from protocol.identity import client_identity_from_pem
from protocol.models import Client
from protocol.services import client_register
from tenancy.models import Utility

SEP2_TLS_PORT = 8443
DEMO_UTILITY = "cascadia"


def demo_dir() -> Path:
    return Path(settings.VAR_DIR) / "demo" / "sep2"


def nginx_binary() -> str | None:
    return trust.nginx_binary()


def demo_pki_write(*, utility_slug: str = DEMO_UTILITY, force: bool = False) -> dict:
    """Write the CA, server, aggregator and device certificates (once) and register the
    aggregator and device as Clients of the demo utility. Idempotent."""
    folder = demo_dir()
    # ca-intermediate.key: older demo folders lack the CA keys nginx's demo CRLs need.
    if force or not (folder / "ca-intermediate.key").exists():
        pki.build_test_pki(folder)
    utility = Utility.objects.get(slug=utility_slug)
    program = Program.objects.for_utility(utility).order_by("pk").first()
    clients = {}
    with transaction.atomic():
        for kind in ("aggregator", "device"):
            pem = (folder / f"{kind}.pem").read_bytes().split(b"-----END CERTIFICATE-----")[0]
            identity = client_identity_from_pem(pem + b"-----END CERTIFICATE-----\n")
            client = Client.objects.filter(lfdi=identity.lfdi).first() or client_register(
                utility=utility,
                lfdi=identity.lfdi,
                kind=kind,
                name=f"Demo {kind}",
                program=program,
                cert_not_after=identity.certificate.not_valid_after_utc,
            )
            clients[kind] = {
                "lfdi": client.lfdi,
                "sfdi": client.sfdi,
                "cert": str(folder / f"{kind}.pem"),
                "key": str(folder / f"{kind}.key"),
            }
    info = {
        "dcap": f"https://127.0.0.1:{SEP2_TLS_PORT}/dcap",
        "ca_bundle": str(folder / "ca-bundle.pem"),
        "utility": utility_slug,
        "clients": clients,
        "try": (
            f"curl --cacert {folder / 'ca-bundle.pem'} --cert {folder / 'aggregator.pem'} "
            f"--key {folder / 'aggregator.key'} https://127.0.0.1:{SEP2_TLS_PORT}/dcap"
        ),
    }
    credentials_update("sep2", info)
    return info


def nginx_config_write(*, upstream_port: int, tls_port: int = SEP2_TLS_PORT) -> Path:
    """An nginx config for the demo endpoint, using the committed TLS and proxy snippets and
    the program CA bundle and CRLs protocol.trust writes (as deploy/nginx does)."""
    folder = demo_dir()
    run = trust.nginx_run_dir()
    run.mkdir(parents=True, exist_ok=True)
    written = trust.trust_write(reload=False)  # also the proxy-secret include
    conf = run / "nginx.conf"
    conf.write_text(
        nginx.sep2_conf(
            run=run,
            upstream_port=upstream_port,
            workers=processes.worker_count(os.environ),
            tls_port=tls_port,
            server_cert=folder / "server.pem",
            server_key=folder / "server.key",
            ca_bundle=Path(written["ca_bundle"]),
            crl=Path(written["crl"]),
            secret_conf=trust.tls_dir() / trust.PROXY_SECRET_CONF,
            root=os.geteuid() == 0,
        )
    )
    return conf


def demo_fleet_prepare(
    *, utility_slug: str = DEMO_UTILITY, aggregator_lfdi: str, devices: int, seed: int = 0
) -> int:
    """Make the simulated fleet dispatchable before it connects: one Device per simulated
    LFDI (Oregon, ZIP 972xx), a Participant of the demo program for each, and its EndDevice
    pre-registered for the demo aggregator, as a manager would (a fleet Device is claimed by
    no aggregator otherwise). The fleet's POST /edev then finds its EndDevice. Idempotent."""
    from devices.models import Device
    from devices.services import device_register
    from devices.simulator.sep2_fleet import (
        FLEET_MODEL,
        FLEET_VENDOR,
        fleet_lfdi,
        fleet_serial,
        fleet_sfdi,
    )
    from programs.services import participant_add
    from protocol.models import EndDevice
    from protocol.services import end_device_preregister

    utility = Utility.objects.get(slug=utility_slug)
    program = Program.objects.for_utility(utility).order_by("pk").first()
    if program is None:
        return 0
    aggregator = Client.objects.for_utility(utility).get(lfdi=aggregator_lfdi)
    with transaction.atomic():
        for index in range(devices):
            lfdi = fleet_lfdi(seed=seed, index=index)
            device = Device.objects.for_utility(utility).filter(lfdi=lfdi).first()
            if device is None:
                device = device_register(
                    utility=utility,
                    vendor_name=FLEET_VENDOR,
                    model_name=FLEET_MODEL,
                    serial=fleet_serial(seed=seed, index=index),
                    max_charge_w=5000,
                    max_discharge_w=5000,
                    capacity_wh=13500,
                    reserve_pct=20,
                    lfdi=lfdi,
                    sfdi=fleet_sfdi(lfdi),
                    zip_code=f"972{index % 100:02d}",
                    state="OR",
                )
            participant_add(program=program, device=device)
            if not EndDevice.objects.for_utility(utility).filter(lfdi=lfdi).exists():
                end_device_preregister(
                    utility=utility,
                    lfdi=lfdi,
                    sfdi=fleet_sfdi(lfdi),
                    device=device,
                    registered_by=aggregator,
                )
    return devices
