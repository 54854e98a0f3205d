# ruff: noqa: S603 -- starts our own interpreter (sys.executable) on fixed arguments
"""Dispatch at fleet scale: event_create's query count by N, and the time until every
one of N EndDevices has seen the event's DERControl in its own poll.

    python -m bench dispatch        # or: python -m bench.dispatch [--devices 10000]

The fleet is set up set-based (bulk Devices, Participants, EndDevices in one group) on the
bench database. uvicorn serves the real stack; poller processes (keep-alive http.client,
forwarded-certificate header from 127.0.0.1) sweep their share of the EndDevices' DERControl
lists, as polling clients do, and note when each first lists the event.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from bench import _django

ROOT = Path(__file__).resolve().parent.parent


def _fleet(n: int, tag: str):
    """A utility with N devices, Participants and EndDevices in one dispatch group."""
    from django.utils import timezone

    from devices.models import Device
    from programs.models import DispatchGroup, Participant, Program
    from protocol import pki
    from protocol.identity import client_identity_from_der, sfdi_from_lfdi
    from protocol.models import EndDevice
    from protocol.services import client_register
    from tenancy.models import Utility

    stamp = f"{tag}-{n}-{os.getpid()}-{int(time.time())}"
    utility = Utility.objects.create(name=f"Bench {stamp}", slug=f"bench-{stamp}")
    program = Program.objects.create(
        utility=utility, name="Bench", slug="bench", max_events_per_day=None, poll_rate_s=60
    )
    group = DispatchGroup.objects.create(utility=utility, program=program, name="All")
    cert = pki.create_client_certificate(pki.create_root_ca(), "bench", role="aggregator")
    client = client_register(
        utility=utility,
        lfdi=client_identity_from_der(cert.cert_der).lfdi,
        kind="aggregator",
        name="bench",
        program=program,
    )
    now = timezone.now()
    Device.objects.bulk_create(
        (
            Device(
                utility=utility,
                vendor_name="Acme",
                model_name="Cell",
                serial=f"SN{i}",
                lfdi=os.urandom(20).hex().upper(),
                max_discharge_w=5000,
                max_charge_w=5000,
                capacity_wh=13500,
                soc_pct=80,
                stat_w_avail_w=4000,
                last_heard_at=now,
            )
            for i in range(n)
        ),
        batch_size=2000,
    )
    fleet = list(Device.objects.filter(utility=utility).only("pk", "lfdi").order_by("pk"))
    Participant.objects.bulk_create(
        (Participant(utility=utility, program=program, device=d, joined_at=now) for d in fleet),
        batch_size=2000,
    )
    EndDevice.objects.bulk_create(
        (
            EndDevice(
                utility=utility,
                lfdi=d.lfdi,
                sfdi=sfdi_from_lfdi(d.lfdi),
                registered_by=client,
                device=d,
                pin=1,
                changed_time=now,
            )
            for d in fleet
        ),
        batch_size=2000,
    )
    edevs = list(EndDevice.objects.filter(utility=utility).values_list("pk", flat=True))
    return program, group, cert, edevs


def _create(program, group, n: int):
    from django.utils import timezone

    from programs.services import event_create

    return event_create(
        program=program,
        group=group,
        kind="discharge",
        start=timezone.now() + timedelta(hours=1),
        duration_s=1800,
        target_w=n * 1000,
        actor=None,
        is_test=True,
    )


def query_counts(sizes: list[int]) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    print("event_create cost by fleet size (one dispatch group):")
    for n in sizes:
        program, group, _, _ = _fleet(n, "q")
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            _create(program, group, n)
            elapsed = time.perf_counter() - started
        inserts = sum(1 for q in queries.captured_queries if "dispatch" in q["sql"].lower()
                      and q["sql"].lstrip().upper().startswith("INSERT"))  # fmt: skip
        print(
            f"  N={n:>6}: {len(queries.captured_queries):4d} queries "
            f"({inserts} Dispatch INSERTs), {elapsed * 1000:8.0f} ms"
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _poller(args):
    port, header, group, edevs, mrid, _unused, seconds = args
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {
        "X-SSL-Client-Cert": header,
        "X-Reservoir-Proxy-Secret": os.environ["SEP2_PROXY_SECRET"],
    }
    seen: dict[int, float] = {}
    requests = errors = 0
    deadline = time.monotonic() + seconds
    while len(seen) < len(edevs) and time.monotonic() < deadline:
        for eid in edevs:
            if eid in seen:
                continue
            try:
                conn.request("GET", f"/edev/{eid}/derp/{group}/derc?l=10", headers=headers)
                response = conn.getresponse()
                body = response.read()
                requests += 1
                if response.status != 200:
                    errors += 1
                elif mrid.encode() in body:
                    seen[eid] = time.time()
            except (OSError, http.client.HTTPException):
                errors += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.close()
    return seen, requests, errors


def visibility(n: int, processes: int, workers: int, timeout_s: float) -> None:
    from urllib.parse import quote

    from django.db import connection

    program, group, cert, edevs = _fleet(n, "v")
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "SEP2_TRUSTED_PROXIES": "127.0.0.1"}
    env.pop("REDIS_URL", None)
    port = _free_port()
    log = ROOT / "var" / "bench-dispatch-uvicorn.log"
    argv = [
        sys.executable, "-m", "uvicorn", "portal.asgi_sep2:application", "--host", "127.0.0.1",
        "--port", str(port), "--workers", str(workers), "--no-access-log", "--lifespan", "off",
    ]  # fmt: skip
    connection.close()
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
        header = quote(cert.cert_pem.decode(), safe="")
        started = time.time()
        event = _create(program, group, n)
        created = time.time()
        shares = [edevs[i::processes] for i in range(processes)]
        with multiprocessing.get_context("spawn").Pool(processes) as pool:
            results = pool.map(
                _poller,
                [(port, header, group.pk, s, event.mrid, None, timeout_s) for s in shares],
            )
        seen: dict[int, float] = {}
        requests = errors = 0
        for part, count, errs in results:
            seen.update(part)
            requests += count
            errors += errs
        last = max(seen.values()) if seen else float("nan")
        print(
            f"N={n}: event_create {1000 * (created - started):.0f} ms; DERControl listed in "
            f"{len(seen)}/{n} devices' polls {last - started:.1f} s after event_create "
            f"({processes} pollers, {workers} uvicorn workers, {requests} polls, "
            f"{requests / max(last - created, 1e-9):.0f} polls/s, {errors} errors)"
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
    parser.add_argument("--sizes", default="100,1000,10000")
    cpus = os.cpu_count() or 2
    parser.add_argument("--processes", type=int, default=2 * cpus)
    parser.add_argument("--workers", type=int, default=cpus)
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args(argv if argv is not None else [])
    print(f"database: {_django.setup()}")
    query_counts([int(s) for s in args.sizes.split(",")])
    visibility(args.devices, args.processes, args.workers, args.timeout)


if __name__ == "__main__":
    main(sys.argv[1:])
