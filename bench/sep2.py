# ruff: noqa: S603 -- starts our own interpreter (sys.executable) on fixed arguments
"""Load the 2030.5 server with the CSIP polling + telemetry mix of N devices.

    python -m bench sep2            # or: python -m bench.sep2 [--devices 200] [--seconds 15]

A throwaway SQLite database is migrated and seeded (one aggregator, N EndDevices in a
dispatch group with an event), uvicorn serves the real stack, and load processes
(multiprocessing, keep-alive http.client) send plain HTTP with the forwarded-certificate
header from 127.0.0.1, a trusted proxy, as nginx would. Each device cycle is: GET /dcap,
/edev/{id}, /edev/{id}/fsa/0, /edev/{id}/derp, /edev/{id}/derp/{g}/derc, PUT DERStatus,
POST a MirrorMeterReading. It prints requests/s, p50/p99 latency and errors, then the same
for a static sep+xml view on the same stack, and the ratio between them.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import io
import json
import multiprocessing
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEP = "application/sep+xml"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _seed(devices: int, out: Path) -> None:
    """Runs in a child process with DATABASE_URL pointing at the throwaway database."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    django.setup()
    from datetime import timedelta
    from urllib.parse import quote

    from django.utils import timezone

    from devices.models import Device
    from programs.models import DispatchGroup, Participant, Program
    from programs.services import event_create
    from protocol import pki
    from protocol.identity import client_identity_from_der, sfdi_from_lfdi
    from protocol.models import EndDevice, MirrorMeterReading, MirrorUsagePoint
    from protocol.services import client_register
    from tenancy.models import Utility

    utility = Utility.objects.create(name="Bench Power", slug="bench")
    program = Program.objects.create(
        utility=utility, name="Bench", slug="bench", max_events_per_day=None
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
        Device(
            utility=utility,
            vendor_name="Acme",
            model_name="Cell",
            serial=f"SN{i}",
            lfdi=f"{i + 1:08X}" + os.urandom(16).hex().upper(),
            max_discharge_w=5000,
            max_charge_w=5000,
            capacity_wh=13500,
            soc_pct=80,
            last_heard_at=now,
        )
        for i in range(devices)
    )
    fleet = list(Device.objects.filter(utility=utility).order_by("pk"))
    Participant.objects.bulk_create(
        Participant(utility=utility, program=program, device=d, joined_at=now) for d in fleet
    )
    EndDevice.objects.bulk_create(
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
    )
    end_devices = list(EndDevice.objects.filter(utility=utility).order_by("pk"))
    MirrorUsagePoint.objects.bulk_create(
        MirrorUsagePoint(utility=utility, end_device=e, mrid=f"{e.pk:032X}", role_flags=9)
        for e in end_devices
    )
    mups = list(MirrorUsagePoint.objects.filter(utility=utility).order_by("pk"))
    MirrorMeterReading.objects.bulk_create(
        MirrorMeterReading(
            utility=utility, mirror_usage_point=m, mrid="1" * 32, channel="w", uom=38
        )
        for m in mups
    )
    event_create(
        program=program,
        group=group,
        kind="discharge",
        start=now + timedelta(hours=1),
        duration_s=1800,
        target_w=devices * 1000,
        actor=None,
        schedule=True,
    )
    out.write_text(
        json.dumps(
            {
                "header": quote(cert.cert_pem.decode(), safe=""),
                "group": group.pk,
                "devices": [[e.pk, m.pk] for e, m in zip(end_devices, mups, strict=True)],
            }
        )
    )


def _bodies(now: int, value: int) -> tuple[bytes, bytes]:
    status = (
        f'<DERStatus xmlns="urn:ieee:std:2030.5:ns"><readingTime>{now}</readingTime>'
        f"<stateOfChargeStatus><dateTime>{now}</dateTime><value>{5000 + value % 100}</value>"
        "</stateOfChargeStatus></DERStatus>"
    ).encode()
    reading = (
        f'<MirrorMeterReading xmlns="urn:ieee:std:2030.5:ns"><mRID>{"1" * 32}</mRID>'
        f"<Reading><timePeriod><duration>300</duration><start>{now}</start></timePeriod>"
        f"<value>{value}</value></Reading></MirrorMeterReading>"
    ).encode()
    return status, reading


def _load(args) -> tuple[list[float], int, int]:
    port, header, group, devices, seconds, static = args
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    base_headers = {
        "X-SSL-Client-Cert": header,
        "X-Reservoir-Proxy-Secret": os.environ["SEP2_PROXY_SECRET"],
    }
    latencies, errors, count = [], 0, 0
    by_kind: dict[str, list[float]] = {}
    deadline = time.monotonic() + seconds
    step = 0
    while time.monotonic() < deadline:
        eid, mid = devices[step % len(devices)]
        step += 1
        if static:
            plan = [("GET", "/bench-static", None)] * 7
        else:
            now = int(time.time()) - 5
            status_body, reading_body = _bodies(now, step)
            edev = f"/edev/{eid}"
            plan = [
                ("GET", "/dcap", None),
                ("GET", edev, None),
                ("GET", f"{edev}/fsa/0", None),
                ("GET", f"{edev}/derp", None),
                ("GET", f"{edev}/derp/{group}/derc", None),
                ("PUT", f"{edev}/der/0/ders", status_body),
                ("POST", f"/mup/{mid}", reading_body),
            ]
        for method, path, body in plan:
            headers = dict(base_headers)
            if body is not None:
                headers["Content-Type"] = SEP
            started = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                if response.status >= 400:
                    errors += 1
            except (OSError, http.client.HTTPException):
                errors += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            elapsed = time.perf_counter() - started
            latencies.append(elapsed)
            kind = f"{method} " + "/".join(
                "{id}" if part.isdigit() else part for part in path.split("/")
            )
            by_kind.setdefault(kind, []).append(elapsed)
            count += 1
    conn.close()
    return latencies, errors, count, by_kind


def _run(port, header, group, devices, processes, seconds, static):
    chunks = [devices[i::processes] for i in range(processes)]
    ctx = multiprocessing.get_context("spawn")
    started = time.perf_counter()
    with ctx.Pool(processes) as pool:
        results = pool.map(_load, [(port, header, group, c, seconds, static) for c in chunks if c])
    elapsed = time.perf_counter() - started
    latencies = sorted(lat for r in results for lat in r[0])
    errors = sum(r[1] for r in results)
    count = sum(r[2] for r in results)
    by_kind: dict[str, list[float]] = {}
    for r in results:
        for kind, values in r[3].items():
            by_kind.setdefault(kind, []).extend(values)
    for kind, values in sorted(by_kind.items()):
        values.sort()
        print(f"    {kind:40s} p50 {values[len(values) // 2] * 1000:6.1f} ms  n={len(values)}")
    rate = count / elapsed if elapsed else 0.0
    p50 = latencies[len(latencies) // 2] * 1000 if latencies else 0
    p99 = latencies[int(len(latencies) * 0.99)] * 1000 if latencies else 0
    return rate, p50, p99, errors, count


def _wait(port: int, proc, log: Path, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited:\n{log.read_text()[-2000:]}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError("server did not start")


def main(argv: list[str] | None = None) -> None:
    # One proxy secret for the bench server and its load processes (they stand in for nginx).
    os.environ.setdefault("SEP2_PROXY_SECRET", secrets.token_hex(32))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=200)
    cpus = os.cpu_count() or 2
    parser.add_argument("--processes", type=int, default=2 * cpus)
    parser.add_argument("--workers", type=int, default=cpus)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument(
        "--database-url",
        default="",
        help="an empty PostgreSQL database to use instead of a throwaway SQLite file",
    )
    args = parser.parse_args(argv if argv is not None else [])

    with tempfile.TemporaryDirectory(prefix="bench-sep2-") as tmp:
        tmp_path = Path(tmp)
        env = {
            **os.environ,
            "DATABASE_URL": args.database_url or f"sqlite:///{tmp_path / 'bench.sqlite3'}",
            "CELERY_BROKER_DIR": str(tmp_path / "broker"),
            "RESERVOIR_VAR_DIR": str(tmp_path),
            "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only"),
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("REDIS_URL", None)
        python = sys.executable
        subprocess.run(
            [python, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
        )
        seed_file = tmp_path / "seed.json"
        subprocess.run(
            [python, "-m", "bench.sep2", "--seed", str(args.devices), str(seed_file)],
            cwd=ROOT,
            env=env,
            check=True,
        )
        seed = json.loads(seed_file.read_text())
        port = _free_port()
        log = tmp_path / "uvicorn.log"
        argv_server = [
            python, "-m", "uvicorn", "bench.sep2_asgi:application",
            "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers),
            "--no-access-log", "--lifespan", "off",
        ]  # fmt: skip
        with log.open("wb") as out:
            server = subprocess.Popen(
                argv_server, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        try:
            _wait(port, server, log)
            time.sleep(1.0)  # let every worker finish importing
            print(
                f"{args.devices} devices, {args.processes} load processes, "
                f"{args.workers} uvicorn workers, "
                f"{'PostgreSQL' if args.database_url else 'SQLite'}, {args.seconds:g} s per run"
            )
            figures = {}
            # Warm every worker up (imports, URL resolver, connections) before measuring.
            with contextlib.redirect_stdout(io.StringIO()):
                _run(port, seed["header"], seed["group"], seed["devices"], args.processes,
                     3.0, False)  # fmt: skip
            for label, static in (("csip mix", False), ("static view", True)):
                rate, p50, p99, errors, count = _run(
                    port,
                    seed["header"],
                    seed["group"],
                    seed["devices"],
                    args.processes,
                    args.seconds,
                    static,
                )
                figures[label] = rate
                print(
                    f"{label:12s} {rate:8.0f} req/s  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  "
                    f"errors {errors}/{count}"
                )
            ratio = figures["csip mix"] / figures["static view"] if figures["static view"] else 0
            print(f"csip mix / static view: {ratio:.2f}")
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--seed":
        _seed(int(sys.argv[2]), Path(sys.argv[3]))
    else:
        main(sys.argv[1:])
