# ruff: noqa: S603 -- starts our own interpreter (sys.executable) on fixed arguments
"""The 2030.5 fleet simulator's own cost: what one process needs per simulated device.

    python -m bench sep2_fleet      # or: python -m bench.sep2_fleet [--devices 10000]

1. Physics: one batched tick (control selection + BatteryModel.step) over N devices.
2. Wire: N devices register in-band and poll against uvicorn (real stack, bench database,
   forwarded-certificate header); prints requests/s through the shared keep-alive pool
   and the simulator's CPU time per request, so the server is what limits the fleet.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from bench import _django

ROOT = Path(__file__).resolve().parent.parent


def physics(n: int) -> None:
    from devices.simulator.sep2_client import FleetStats
    from devices.simulator.sep2_fleet import Sep2Fleet

    fleet = Sep2Fleet(base_url="http://127.0.0.1:1", devices=n, forwarded_cert_pem=b"x")
    fleet._build()
    for dev in fleet.devices:
        dev.edev = object()  # registered, for the tick's purposes
    fleet.stats = FleetStats(devices=n)
    started = time.perf_counter()
    ticks = 5
    for _ in range(ticks):
        t = fleet.now()
        for dev in fleet.devices:
            dev.apply(t)
            target = dev.target_w(dt_s=1.0)  # as the fleet's physics loop steps
            dev.battery.step(1.0, target, ramp_w_per_s=dev.ramp_w_per_s)
    per_tick = (time.perf_counter() - started) / ticks
    print(f"physics: one tick over {n} devices {per_tick * 1000:.0f} ms (every wall second)")


def wire(n: int, seconds: float) -> None:
    from django.db import connection

    from devices.simulator.sep2_fleet import Sep2Fleet
    from programs.models import DispatchGroup, Program
    from protocol import pki
    from protocol.identity import client_identity_from_der
    from protocol.services import client_register
    from tenancy.models import Utility

    stamp = f"{os.getpid()}-{int(time.time())}"
    utility = Utility.objects.create(name=f"Fleet {stamp}", slug=f"fleet-{stamp}")
    program = Program.objects.create(utility=utility, name="F", slug="f", poll_rate_s=60)
    DispatchGroup.objects.create(utility=utility, program=program, name="All")
    cert = pki.create_client_certificate(pki.create_root_ca(), "fleet", role="aggregator")
    client_register(
        utility=utility,
        lfdi=client_identity_from_der(cert.cert_der).lfdi,
        kind="aggregator",
        name="fleet",
        program=program,
    )
    connection.close()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    workers = os.cpu_count() or 2
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "SEP2_TRUSTED_PROXIES": "127.0.0.1"}
    env.pop("REDIS_URL", None)
    log = ROOT / "var" / "bench-fleet-uvicorn.log"
    argv = [
        sys.executable, "-m", "uvicorn", "portal.asgi_sep2:application", "--host", "127.0.0.1",
        "--port", str(port), "--workers", str(workers), "--no-access-log", "--lifespan", "off",
    ]  # fmt: skip
    with log.open("wb") as out:
        server = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        time.sleep(1.0)
        fleet = Sep2Fleet(
            base_url=f"http://127.0.0.1:{port}",
            devices=n,
            forwarded_cert_pem=cert.cert_pem,
            time_scale=60,
            pool_size=2 * workers,
        )
        cpu = time.process_time()
        stats = asyncio.run(fleet.run(duration_s=seconds))
        cpu = time.process_time() - cpu
        lat = sorted(stats.latency_ms) or [0.0]
        print(
            f"wire: {stats.registered}/{n} registered in {seconds:g} s run, "
            f"{stats.requests} requests ({stats.requests_per_s:.0f}/s, p50 "
            f"{lat[len(lat) // 2]:.1f} ms), {stats.polls} poll cycles, {stats.errors} errors; "
            f"simulator CPU {cpu:.1f} s = {1000 * cpu / max(stats.requests, 1):.2f} ms/request"
        )
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--wire-devices", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args(argv if argv is not None else [])
    print(f"database: {_django.setup()}")
    physics(args.devices)
    wire(args.wire_devices, args.seconds)


if __name__ == "__main__":
    main(sys.argv[1:])
