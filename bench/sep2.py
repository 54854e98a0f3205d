# ruff: noqa: S603 -- starts our own interpreter (sys.executable) on fixed arguments
"""The 2030.5 polling mix against the machine's ceiling, endpoint by endpoint.

    python -m bench sep2      # or: python -m bench.sep2 [--devices 1000] [--seconds 6 --rounds 3]

A fresh database (``<DATABASE_URL's name>_sep2`` on PostgreSQL, a throwaway SQLite file
without DATABASE_URL) is migrated, seeded (one aggregator, N EndDevices with mirrors in a
dispatch group with an event) and ANALYZEd. The real 2030.5 listener
(``portal.asgi_sep2``) runs with the command line `make run` and deploy/ use
(``portal.processes``, one worker by default), and next to it the ceiling
(``bench.ceiling_asgi``), a framework-free ASGI app that answers a fixed body of the size
the endpoint answered. One load generator, wrk (``apt-get install wrk``), drives both at
16 connections with the forwarded-certificate header from 127.0.0.1, as nginx would,
rotating over the devices. For each endpoint it prints req/s, p50 and p99, the ceiling's
req/s for the same body size, and the ratio; the reference server's figures (bsgip envoy)
are printed beside them as last measured here by ``bench sep2_envoy``.

``--profile "PUT ders"`` runs no load: on the same seeded database it puts one endpoint's
requests through the 2030.5 view in process under cProfile and prints statements per
request and where the time went (``--requests N``). That is Django's path: on PostgreSQL
the listener stores the common DERStatus PUT and readings post on its lean path
(protocol.fastwrite); ``SEP2_LEAN_WRITES=0 python -m bench.sep2 ...`` measures the
listener with it off, for a before/after taken back to back.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

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

    from bench import _django
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
    # Fresh bulk rows and no statistics make the planner choose nested loops (issue 18).
    _django.analyze(Device, Participant, EndDevice, MirrorUsagePoint, MirrorMeterReading)
    out.write_text(
        json.dumps(
            {
                "header": quote(cert.cert_pem.decode(), safe=""),
                "group": group.pk,
                "devices": [[e.pk, m.pk] for e, m in zip(end_devices, mups, strict=True)],
            }
        )
    )


# What bsgip's envoy 1.5.0 answered on this machine, one uvicorn worker, PostgreSQL, 1,000
# EndDevices, wrk at 16 connections, measured live by `bench sep2_envoy` on 2026-12-07 (the
# issue's own figures of 2026-12-06 were lower: PUT 234, MMR 184); req/s, p50, p99 ms.
ENVOY_RECORDED = {
    "GET /tm": (1741, 9, 50),
    "GET /dcap": (443, 31, 74),
    "GET /edev?l=10": (168, 79, 184),
    "GET fsa?l=10": (347, 39, 86),
    "GET derp?l=10": (238, 56, 137),
    "GET derc?l=10": (211, 65, 128),
    "GET dderc": (374, 36, 87),
    "PUT ders": (378, 38, 83),
    "POST mmr (4 readings)": (286, 49, 102),  # envoy answered 150 of its posts with an error
}


# Body templates: @T0@..@T3@ are filled per request with now - 180, -120, -60 and now
# (seconds, a few seconds in the past), @V@ with a changing value.
STATUS_BODY = (
    '<DERStatus xmlns="urn:ieee:std:2030.5:ns"><readingTime>@T3@</readingTime>'
    "<stateOfChargeStatus><dateTime>@T3@</dateTime><value>50@V@</value>"
    "</stateOfChargeStatus></DERStatus>"
)
READING_BODY = (
    f'<MirrorMeterReading xmlns="urn:ieee:std:2030.5:ns"><mRID>{"1" * 32}</mRID>'
    f"<MirrorReadingSet><mRID>{'2' * 32}</mRID><timePeriod><duration>240</duration>"
    "<start>@T0@</start></timePeriod>"
    + "".join(
        f"<Reading><timePeriod><duration>60</duration><start>@T{k}@</start></timePeriod>"
        f"<value>{k}@V@</value></Reading>"
        for k in range(4)
    )
    + "</MirrorReadingSet></MirrorMeterReading>"
)


def fill(template: str, now: int, value: int) -> str:
    for k in range(4):
        template = template.replace(f"@T{k}@", str(now - 60 * (3 - k)))
    return template.replace("@V@", f"{value % 100:02d}")


def endpoints(seed: dict) -> list[tuple[str, str, list[str], str | None]]:
    """(label, method, paths, body template) of the polling mix, rotating over devices."""
    group = seed["group"]
    eds = [e for e, _ in seed["devices"]]
    mups = [m for _, m in seed["devices"]]

    def per_device(suffix: str) -> list[str]:
        return [f"/edev/{e}{suffix}" for e in eds]

    return [
        ("GET /tm", "GET", ["/tm"], None),
        ("GET /dcap", "GET", ["/dcap"], None),
        ("GET /edev?l=10", "GET", ["/edev?l=10"], None),
        ("GET fsa?l=10", "GET", per_device("/fsa?l=10"), None),
        ("GET derp?l=10", "GET", per_device("/derp?l=10"), None),
        ("GET derc?l=10", "GET", per_device(f"/derp/{group}/derc?l=10"), None),
        ("GET dderc", "GET", per_device(f"/derp/{group}/dderc"), None),
        ("PUT ders", "PUT", per_device("/der/0/ders"), STATUS_BODY),
        (
            "POST mmr (4 readings)",
            "POST",
            [f"/mup/{m}" for m in mups],
            READING_BODY,
        ),
    ]


def _lua(paths: list[str], method: str, headers: dict[str, str], body: str | None) -> str:
    def q(text: str) -> str:
        return json.dumps(text)  # a JSON string is a valid Lua string literal here

    lines = [f"local paths = {{{', '.join(q(p) for p in paths)}}}"]
    lines += [f"wrk.headers[{q(k)}] = {q(v)}" for k, v in headers.items()]
    lines.append(f"local method, template = {q(method)}, {q(body) if body else 'nil'}")
    lines.append(
        """
local threads, counter, tid, i = {}, 0, 0, 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
function request()
  i = i + 1
  local path = paths[((i * 2 + tid) % #paths) + 1]
  local body = nil
  if template then
    local now = os.time() - 5
    body = template
    for k = 0, 3 do
      body = body:gsub("@T" .. k .. "@", tostring(now - 60 * (3 - k)))
    end
    body = body:gsub("@V@", string.format("%02d", i % 100))
  end
  return wrk.format(method, path, nil, body)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKJSON {\\"requests\\": %d, \\"duration_us\\": %d, \\"status\\": %d, \\"socket\\": %d, "
    .. "\\"p50_us\\": %d, \\"p99_us\\": %d, \\"bytes\\": %d}\\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), summary.bytes))
end
"""
    )
    return "\n".join(lines)


def wrk(
    url: str, paths: list[str], method: str, headers: dict, body: str | None, args, tmp: Path
) -> dict:
    script = tmp / "load.lua"
    if body is not None:
        headers = {**headers, "Content-Type": SEP}
    script.write_text(_lua(paths, method, headers, body))
    argv = [
        "wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{max(1, round(args.seconds))}s",
        "--timeout", "10s", "-s", str(script), url,
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no figures:\n{done.stdout}\n{done.stderr}")
    figures = json.loads(line.removeprefix("WRKJSON "))
    figures["rate"] = figures["requests"] * 1e6 / max(figures["duration_us"], 1)
    return figures


@dataclass(frozen=True)
class Load:
    """What wrk sends one server: the URL, the paths it rotates over, the request."""

    url: str
    paths: list[str]
    method: str = "GET"
    headers: dict = field(default_factory=dict)
    body: str | None = None


def ceiling_load(port: int, size: int, headers: dict) -> Load:
    """The ceiling's load: a GET of ``size`` bytes carrying the headers the measured server
    gets (the forwarded certificate is about 1.5 kB), so the HTTP parser reads requests of
    the same size and only the application differs, as in issue 18's own measurement."""
    return Load(f"http://127.0.0.1:{port}", [f"/{size}"], "GET", headers)


def interleaved(loads: dict[str, Load], args: argparse.Namespace, tmp: Path) -> dict:
    """Each load's wrk figures over ``args.rounds`` rounds, the loads back to back in each.

    On a shared machine the load average drifts within seconds, so two figures taken a
    minute apart measure the drift as much as the servers: a ratio is taken per round, and
    the median round is reported (see ``median`` and ``ratio``).
    """
    each = per_round(args)
    runs: dict[str, list[dict]] = {name: [] for name in loads}
    for _ in range(args.rounds):
        for name, load in loads.items():
            runs[name].append(wrk(load.url, load.paths, load.method, load.headers, load.body,
                                  each, tmp))  # fmt: skip
    return runs


def median(runs: list[dict]) -> dict:
    """One server's figures over its rounds: median rate, p50 and p99; errors summed."""
    return {
        "rate": statistics.median(r["rate"] for r in runs),
        "p50_us": statistics.median(r["p50_us"] for r in runs),
        "p99_us": statistics.median(r["p99_us"] for r in runs),
        "status": sum(r["status"] for r in runs),
        "socket": sum(r["socket"] for r in runs),
    }


def ratio(ours: list[dict], theirs: list[dict]) -> float | None:
    """The median over rounds of ours / theirs, each round's pair taken back to back."""
    pairs = [a["rate"] / b["rate"] for a, b in zip(ours, theirs, strict=True) if b["rate"]]
    return statistics.median(pairs) if pairs else None


def _probe(port: int, method: str, path: str, headers: dict, body: str | None) -> tuple[int, int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        sent = dict(headers)
        if body is not None:
            sent["Content-Type"] = SEP
            body = fill(body, int(time.time()) - 5, 7)
        conn.request(method, path, body=body.encode() if body else None, headers=sent)
        response = conn.getresponse()
        return response.status, len(response.read())
    finally:
        conn.close()


def first_pass(port: int, paths: list[str], headers: dict, connections: int) -> float:
    """GET every path once over `connections` keep-alive connections; requests/s.

    Every answer is rendered (nothing is cached yet): what a fleet's first polls cost.
    """
    from concurrent.futures import ThreadPoolExecutor

    def run(chunk: list[str]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for path in chunk:
            conn.request("GET", path, headers=headers)
            conn.getresponse().read()
        conn.close()

    started = time.perf_counter()
    with ThreadPoolExecutor(connections) as pool:
        list(pool.map(run, [paths[i::connections] for i in range(connections)]))
    return len(paths) / (time.perf_counter() - started)


def _profile(seed_file: Path, label: str, requests: int) -> None:
    """Runs in a child process on the seeded database: one endpoint's requests through the
    2030.5 view in this process under cProfile (what the listener hands Django: a write, or
    a GET rendered; a GET's cached answer is dropped before each request, so the profile is
    the render, not the fast path's lookup). Prints req/s, statements per request and the
    functions that took the time."""
    import cProfile
    import pstats

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    django.setup(set_prefix=False)
    from django.conf import settings
    from django.db import connection
    from django.test import RequestFactory
    from django.test.utils import CaptureQueriesContext

    from portal.listeners import sep2_match
    from protocol import cache

    seed = json.loads(seed_file.read_text())
    chosen = [e for e in endpoints(seed) if label in e[0]]
    if not chosen:
        raise SystemExit(f"no endpoint matches {label!r}")
    name, method, paths, template = chosen[0]
    factory = RequestFactory()
    meta = {
        "HTTP_X_SSL_CLIENT_CERT": seed["header"],
        "HTTP_X_RESERVOIR_PROXY_SECRET": settings.SEP2_PROXY_SECRET,
        "REMOTE_ADDR": "127.0.0.1",
    }

    def one(i: int) -> None:
        path = paths[i % len(paths)]
        if template is None:
            cache.responses.clear()
            request = factory.generic(method, path, **meta)
        else:
            body = fill(template, int(time.time()) - 5, i).encode()
            request = factory.generic(method, path, body, content_type=SEP, **meta)
        match = sep2_match(path.partition("?")[0])
        response = match.func(request, *match.args, **match.kwargs)
        if response.status_code >= 300:
            raise RuntimeError(f"{name} {path}: {response.status_code} {response.content!r}")

    for i in range(min(requests, 50)):  # warm: imports, identity, the pool, first touches
        one(i)
    with CaptureQueriesContext(connection) as queries:
        one(requests)
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for i in range(requests):
        one(requests + 1 + i)
    profiler.disable()
    elapsed = time.perf_counter() - started
    statements = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    print(
        f"profile {name}: {requests} requests in process, {requests / elapsed:.0f} req/s under "
        f"cProfile; {len(statements)} statements (one request, savepoints aside):"
    )
    for sql in statements:
        print(f"    {' '.join(sql.split())[:110]}")
    stats = pstats.Stats(profiler)
    ours = "^" + re.escape(str(ROOT)) + r"/(?!\.venv/)"  # the project's code, not its venv
    stats.sort_stats("cumulative").print_stats(ours, 30)
    stats.sort_stats("tottime").print_stats(15)


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


def _fresh_postgres(url: str) -> str:
    """A new, empty sibling database `<name>_sep2` on the server DATABASE_URL names."""
    import psycopg

    parts = urlsplit(url)
    name = f"{parts.path.lstrip('/') or 'postgres'}_sep2"
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}"))


# Every server under load runs with the same uvicorn options as the 2030.5 listener in
# production: no proxy-headers middleware (it would rewrite the peer from X-Forwarded-For).
UVICORN_OPTIONS = ("--no-access-log", "--no-proxy-headers")


def listener_argv(port: int, workers: int, env: dict) -> list[str]:
    """The 2030.5 listener's command line as `make run` and deploy/ start it
    (portal.processes), on the bench's port and worker count."""
    from portal.processes import argv

    bind = {"RESERVOIR_SEP2_BIND": f"127.0.0.1:{port}", "RESERVOIR_WORKERS": str(workers)}
    return argv("sep2", {**env, **bind})


def _popen(argv: list[str], env: dict, log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def start_listener(port: int, workers: int, env: dict, log: Path) -> subprocess.Popen:
    return _popen(listener_argv(port, workers, env), env, log)


def _uvicorn(app: str, port: int, workers: int, env: dict, log: Path) -> subprocess.Popen:
    argv = [
        sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(workers), "--lifespan", "off", *UVICORN_OPTIONS,
    ]  # fmt: skip
    return _popen(argv, env, log)


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


def prepare(devices: int, tmp: Path) -> tuple[dict, Path]:
    """A fresh database (`<name>_sep2` on PostgreSQL, a file under `tmp` otherwise),
    migrated and seeded with `devices` EndDevices: the child environment and the seed file."""
    url = os.environ.get("DATABASE_URL", "")
    postgres = url.startswith(("postgres://", "postgresql://"))
    env = {
        **os.environ,
        "DATABASE_URL": _fresh_postgres(url) if postgres else f"sqlite:///{tmp / 'bench.sqlite3'}",
        "CELERY_BROKER_DIR": str(tmp / "broker"),
        "RESERVOIR_VAR_DIR": str(tmp),
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only"),
        "PYTHONUNBUFFERED": "1",
    }
    python = sys.executable
    subprocess.run(
        [python, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    seed_file = tmp / "seed.json"
    subprocess.run(
        [python, "-m", "bench.sep2", "--seed", str(devices), str(seed_file)],
        cwd=ROOT,
        env=env,
        check=True,
    )
    return env, seed_file


def add_timing_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--seconds", type=float, default=6.0, help="per endpoint and server, over all rounds"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds per endpoint, the servers back to back"
    )
    parser.add_argument("--only", default="", help="a substring of the endpoints to run")


def per_round(args: argparse.Namespace) -> argparse.Namespace:
    """The wrk arguments of one round: the endpoint's seconds split over the rounds."""
    return argparse.Namespace(
        **{**vars(args), "seconds": max(1, round(args.seconds / args.rounds))}
    )


def main(argv: list[str] | None = None) -> None:
    # One proxy secret for the bench server and its load generator (they stand in for nginx).
    os.environ.setdefault("SEP2_PROXY_SECRET", secrets.token_hex(32))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers (each server)")
    add_timing_arguments(parser)
    parser.add_argument(
        "--profile",
        default="",
        metavar="ENDPOINT",
        help="instead of the load run: cProfile this endpoint (a substring of its label) "
        "through the 2030.5 view in process, on the same seeded database",
    )
    parser.add_argument("--requests", type=int, default=300, help="requests to --profile")
    args = parser.parse_args(argv if argv is not None else [])
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install -y wrk): the sep2 bench needs it")
        return

    with tempfile.TemporaryDirectory(prefix="bench-sep2-") as tmp:
        tmp_path = Path(tmp)
        env, seed_file = prepare(args.devices, tmp_path)
        postgres = env["DATABASE_URL"].startswith(("postgres://", "postgresql://"))
        python = sys.executable
        if args.profile:
            subprocess.run(
                [python, "-m", "bench.sep2", "--profile-child", str(seed_file), args.profile,
                 str(args.requests)],
                cwd=ROOT, env=env, check=True,
            )  # fmt: skip
            return
        seed = json.loads(seed_file.read_text())
        port, ceiling_port = _free_port(), _free_port()
        server = start_listener(port, args.workers, env, tmp_path / "sep2.log")
        ceiling = _uvicorn(
            "bench.ceiling_asgi:application", ceiling_port, args.workers, env, tmp_path / "c.log"
        )
        headers = {
            "X-SSL-Client-Cert": seed["header"],
            "X-Reservoir-Proxy-Secret": os.environ["SEP2_PROXY_SECRET"],
        }
        try:
            _wait(port, server, tmp_path / "sep2.log")
            _wait(ceiling_port, ceiling, tmp_path / "c.log")
            print(
                f"{args.devices} EndDevices, {'PostgreSQL' if postgres else 'SQLite'}, "
                f"uvicorn --workers {args.workers} (portal.asgi_sep2 and the ceiling), "
                f"wrk -t{args.threads} -c{args.connections}, {args.rounds} rounds of "
                f"{per_round(args).seconds} s per server, "
                f"REDIS_URL {'set' if env.get('REDIS_URL') else 'unset'}"
            )
            print(
                f"{'endpoint':24s} {'bytes':>5s} {'req/s':>7s} {'p50':>6s} {'p99':>6s} "
                f"{'errors':>7s} {'ceiling':>8s} {'/ceil':>6s} {'envoy*':>7s} {'/envoy':>6s}"
            )
            for label, method, paths, body in endpoints(seed):
                if args.only and args.only not in label:
                    continue
                status, size = _probe(port, method, paths[0], headers, body)
                if status >= 400:
                    print(f"{label:24s} answered {status}: skipped")
                    continue
                base = f"http://127.0.0.1:{port}"
                # GETs: one first pass over every path (each answer rendered once), then
                # the steady state a polling fleet sees while nothing changes.
                render = (
                    first_pass(port, paths, headers, args.connections)
                    if method == "GET" and len(paths) > 1
                    else None
                )
                # Warm up (imports, pool, caches) for a second, then measure.
                quick = argparse.Namespace(**{**vars(args), "seconds": 1})
                wrk(base, paths, method, headers, body, quick, tmp_path)
                runs = interleaved(
                    {
                        "sep2": Load(base, paths, method, headers, body),
                        "ceiling": ceiling_load(ceiling_port, size, headers),
                    },
                    args,
                    tmp_path,
                )
                sep2, ceil = median(runs["sep2"]), median(runs["ceiling"])
                envoy = ENVOY_RECORDED.get(label)
                to_ceiling = ratio(runs["sep2"], runs["ceiling"]) or 0.0
                errors = sep2["status"] + sep2["socket"]
                print(
                    f"{label:24s} {size:5d} {sep2['rate']:7.0f} {sep2['p50_us'] / 1000:6.1f} "
                    f"{sep2['p99_us'] / 1000:6.1f} {errors:7d} {ceil['rate']:8.0f} "
                    f"{to_ceiling:6.3f} "
                    + (
                        f"{envoy[0]:7d} {sep2['rate'] / envoy[0]:6.2f}"
                        if envoy
                        else f"{'-':>7s} {'-':>6s}"
                    )
                    + (f"  first pass {render:.0f} req/s" if render else "")
                )
            print(
                "p50/p99 in ms, req/s and latencies the median round, /ceil the median of the "
                "rounds' ratios (each round runs both servers back to back); errors = non-2xx "
                "answers + socket errors, all rounds; ceiling = "
                "bench.ceiling_asgi answering the same number of bytes; first pass = every "
                "device's path GET once before the run (all rendered, none cached).\n"
                "* envoy: bsgip envoy 1.5.0 on this machine as bench sep2_envoy measured it "
                "(2026-12-07; one worker, PostgreSQL, 1,000 EndDevices, wrk -c16), not rerun."
            )
        finally:
            _stop(server)
            _stop(ceiling)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--seed":
        _seed(int(sys.argv[2]), Path(sys.argv[3]))
    elif len(sys.argv) == 5 and sys.argv[1] == "--profile-child":
        _profile(Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
    else:
        main(sys.argv[1:])
