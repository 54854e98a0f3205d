"""The demo 2030.5 endpoint on one machine: a PKI under var/demo/sep2 and an nginx config
that terminates mutual TLS on 127.0.0.1:8443 in front of the local ASGI server."""

import os
from pathlib import Path

from django.conf import settings
from django.db import transaction

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
    snippets = Path(settings.BASE_DIR) / "deploy" / "nginx" / "snippets"
    user = "user root;" if os.geteuid() == 0 else ""
    temp = "\n".join(
        f"    {k}_temp_path {run / k};"
        for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    written = trust.trust_write(reload=False)  # also the proxy-secret include
    secret_conf = trust.tls_dir() / trust.PROXY_SECRET_CONF
    conf = run / "nginx.conf"
    conf.write_text(
        f"""{user}
worker_processes 1;
daemon off;
pid {run / "nginx.pid"};
error_log {run / "error.log"} warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
{temp}
    # The 2030.5 listener (portal.processes "sep2"), never the portal listener.
    upstream reservoir {{ server 127.0.0.1:{upstream_port}; keepalive 16; }}
    server {{
        listen 127.0.0.1:{tls_port} ssl;
        ssl_certificate {folder / "server.pem"};
        ssl_certificate_key {folder / "server.key"};
        ssl_client_certificate {written["ca_bundle"]};
        ssl_crl {written["crl"]};
        include {snippets / "reservoir-sep2-tls.conf"};
        location / {{
            include {snippets / "reservoir-sep2-proxy.conf"};
            include {secret_conf};
            proxy_pass http://reservoir;
        }}
    }}
}}
"""
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
