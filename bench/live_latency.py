# ruff: noqa: S603 -- starts our own interpreter (sys.executable) on fixed arguments
"""Latency from a MirrorMeterReading accepted by the 2030.5 server to its effect arriving
at a browser's WebSocket subscribed to utility.<id>.fleet.

    python -m bench live_latency    # or: python -m bench.live_latency [--samples 30]

uvicorn serves the real ASGI app with its lifespan publisher (portal.live); the reading
goes in over plain HTTP with the forwarded-certificate header from 127.0.0.1; the
WebSocket client (websockets) carries a session cookie of a logged-in program manager.
The publisher throttles to one message per second per group, so ~0.5 s is by design.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench import _django

ROOT = Path(__file__).resolve().parent.parent


def _seed():
    from django.test import Client
    from django.utils import timezone

    from devices.models import Device
    from protocol import pki
    from protocol.identity import client_identity_from_der, sfdi_from_lfdi
    from protocol.models import EndDevice, MirrorMeterReading, MirrorUsagePoint
    from protocol.services import client_register
    from tenancy.choices import Role
    from tenancy.models import Membership, Utility

    stamp = f"{os.getpid()}-{int(time.time())}"
    utility = Utility.objects.create(name=f"Live {stamp}", slug=f"live-{stamp}")
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(
        username=f"live-{stamp}@example.test", email=f"live-{stamp}@example.test"
    )
    Membership.objects.create(utility=utility, user=user, role=Role.PROGRAM_MANAGER)
    cert = pki.create_client_certificate(pki.create_root_ca(), "live", role="aggregator")
    client = client_register(
        utility=utility,
        lfdi=client_identity_from_der(cert.cert_der).lfdi,
        kind="aggregator",
        name="live",
    )
    lfdi = os.urandom(20).hex().upper()
    device = Device.objects.create(
        utility=utility, vendor_name="Acme", model_name="Cell", serial="LIVE1", lfdi=lfdi
    )
    end_device = EndDevice.objects.create(
        utility=utility,
        lfdi=lfdi,
        sfdi=sfdi_from_lfdi(lfdi),
        registered_by=client,
        device=device,
        pin=1,
        changed_time=timezone.now(),
    )
    mup = MirrorUsagePoint.objects.create(
        utility=utility, end_device=end_device, mrid="A" * 32, role_flags=9
    )
    MirrorMeterReading.objects.create(
        utility=utility, mirror_usage_point=mup, mrid="1" * 32, channel="w", uom=38
    )
    browser = Client()
    browser.force_login(user)
    return utility.pk, mup.pk, cert.cert_pem, browser.cookies["sessionid"].value


async def _measure(
    port: int, sep2_port: int, utility_id: int, mup_id: int, pem: bytes, cookie: str, n: int
):
    import websockets

    from devices.simulator.sep2_client import FleetStats, HttpPool
    from protocol.transport import proxy_headers
    from protocol.xml import serialize
    from protocol.xml.resources.common import DateTimeInterval
    from protocol.xml.resources.mirror import MirrorMeterReading as SepMirrorMeterReading
    from protocol.xml.resources.mirror import Reading

    pool = HttpPool(
        f"http://127.0.0.1:{sep2_port}",
        size=1,
        ssl_context=None,
        extra_headers=proxy_headers(pem),
        stats=FleetStats(),
    )
    latencies = []
    url = f"ws://127.0.0.1:{port}/ws/utility/{utility_id}/fleet/"
    headers = {"Cookie": f"sessionid={cookie}", "Origin": f"http://127.0.0.1:{port}"}
    async with websockets.connect(url, additional_headers=headers) as ws:
        hello = json.loads(await ws.recv())
        if hello.get("type") != "subscribed":
            raise RuntimeError(f"WebSocket refused: {hello}")
        for k in range(n):
            value = 1000 + k
            start = int(time.time()) - 1
            body = SepMirrorMeterReading(
                mrid="1" * 32,
                reading=Reading(value=value, time_period=DateTimeInterval(duration=1, start=start)),
            )
            status, _, content = await pool.request("POST", f"/mup/{mup_id}", serialize(body))
            accepted = time.perf_counter()
            if status != 201:
                raise RuntimeError(f"reading refused: {status} {content[:200]!r}")
            deadline = accepted + 10
            while True:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    raise RuntimeError(f"no push with power_w={value} within 10 s")
                message = json.loads(await asyncio.wait_for(ws.recv(), remaining))
                if (message.get("data") or {}).get("power_w") == value:
                    latencies.append((time.perf_counter() - accepted) * 1000)
                    break
            await asyncio.sleep(1.0 + random.random() * 0.5)  # noqa: S311 (jitter)
    pool.close()
    return latencies


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=30)
    args = parser.parse_args(argv if argv is not None else [])
    print(f"database: {_django.setup()}")
    from django.db import connection

    utility_id, mup_id, pem, cookie = _seed()
    connection.close()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "SEP2_TRUSTED_PROXIES": "127.0.0.1"}
    log = ROOT / "var" / "bench-live-uvicorn.log"
    argv = [
        sys.executable, "-m", "uvicorn", "portal.asgi:application", "--host", "127.0.0.1",
        "--port", str(port), "--ws", "websockets-sansio", "--no-access-log",
    ]  # fmt: skip
    # The readings go to the 2030.5 listener, the WebSocket to the portal listener.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sep2_port = sock.getsockname()[1]
    sep2_argv = [
        sys.executable, "-m", "uvicorn", "portal.asgi_sep2:application", "--host", "127.0.0.1",
        "--port", str(sep2_port), "--no-proxy-headers", "--no-access-log",
    ]  # fmt: skip
    with log.open("wb") as out:
        server = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        sep2_server = subprocess.Popen(
            sep2_argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                socket.create_connection(("127.0.0.1", sep2_port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        time.sleep(1.0)
        latencies = asyncio.run(
            _measure(port, sep2_port, utility_id, mup_id, pem, cookie, args.samples)
        )
        q = statistics.quantiles(latencies, n=20)
        print(
            f"MirrorMeterReading accepted → WebSocket push ({len(latencies)} samples): "
            f"p50 {statistics.median(latencies):.0f} ms, p95 {q[18]:.0f} ms, "
            f"max {max(latencies):.0f} ms (publisher throttle {1000} ms per group)"
        )
    finally:
        for proc in (server, sep2_server):
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main(sys.argv[1:])
