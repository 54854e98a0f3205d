# ruff: noqa: S603 -- starts our own interpreter, envoy's venv and git on fixed arguments
"""The 2030.5 polling mix side by side: Reservoir, the reference server and the ceiling.

    python -m bench sep2_envoy   # or: python -m bench.sep2_envoy [--devices 1000] [--rounds 3]

The reference server is bsgip's envoy (the Python CSIP-AUS server). It is not on the
package registry under its own name, so it is built from a git snapshot at run time:
``RESERVOIR_ENVOY_SRC`` (a git directory or a source tree; default the mirror below) is
extracted into ``var/bench/envoy/src``, a venv is built in ``var/bench/envoy/venv`` from
envoy's own ``uv.lock`` (uv exports the pins, pip installs them, so the machine's pip
configuration reaches the registry), its alembic migrations run on a fresh database
(``RESERVOIR_ENVOY_DB``, default ``<DATABASE_URL's name>_envoy``), and it is seeded in
SQL the way envoy's own test data is: one aggregator whose certificate is the one
Reservoir's bench aggregator uses, N sites with one MirrorUsagePoint each, one
DERProgram (site control group) with a default control, and one DERControl per site.
Nothing of envoy is copied into this repository.

Reservoir is set up exactly as ``bench.sep2`` does it (the same seed). All three servers
run at once under uvicorn with one worker; for each endpoint wrk drives Reservoir, then
envoy, then the ceiling, with the same script, 16 connections and the same
forwarded-certificate header (envoy is told its name with ``CERT_HEADER``). Printed: each
server's req/s, p50 and p99, Reservoir / envoy, and each / ceiling.

When envoy cannot be set up (no PostgreSQL, no snapshot, the registry unreachable), one
line says why and envoy's last measured figures (bench.sep2.ENVOY_RECORDED) are printed instead.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from bench import sep2

ROOT = sep2.ROOT
DEFAULT_ENVOY_SRC = "/work/.mirror/bsgip+envoy/repo"
# envoy serves one DER per site, always as id 1 (envoy.server.manager.der_constants).
ENVOY_DER_ID = 1
CERT_HEADER = "X-SSL-Client-Cert"
RECORDED_WITH = "envoy 1.5.0 (tag v1.5.0, commit 4e9b4e47c27b), measured 2026-12-07"


class EnvoyUnavailable(Exception):
    """envoy cannot be run here; the message is the one-line reason printed."""


def envoy_endpoints(seed: dict) -> list[tuple[str, str, list[str], str | None]]:
    """The same polling mix as `sep2.endpoints`, addressed the way envoy names it.

    Only the DER differs: Reservoir serves a device's DER as ``der/0``, envoy as
    ``der/1``. `seed` has envoy's site and MirrorUsagePoint ids in place of Reservoir's.
    """
    return [
        (label, method, [p.replace("/der/0/", f"/der/{ENVOY_DER_ID}/") for p in paths], body)
        for label, method, paths, body in sep2.endpoints(seed)
    ]


def lfdi_from_header(header: str) -> str:
    """The LFDI envoy derives from the forwarded header: a URL-quoted PEM certificate."""
    from protocol.identity import client_identity_from_pem

    return client_identity_from_pem(unquote(header)).lfdi.lower()


def site_identities(count: int) -> list[tuple[str, int]]:
    """(LFDI, SFDI) for `count` sites: unique, with SFDIs that carry their check digit."""
    from protocol.identity import sfdi_from_lfdi

    lfdis = [f"{i + 1:08x}" + os.urandom(16).hex() for i in range(count)]
    return [(lfdi, sfdi_from_lfdi(lfdi)) for lfdi in lfdis]


# --- building envoy ------------------------------------------------------------------


def _run(argv: list[str], what: str, **kwargs) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise EnvoyUnavailable(f"{what} failed: {tail[0][:160]}")
    return done.stdout


def extract_source(source: str, home: Path) -> dict:
    """Put envoy's source tree at ``home/src``; its version, commit and commit date."""
    src = home / "src"
    path = Path(source)
    if not path.exists():
        raise EnvoyUnavailable(f"no envoy snapshot at {source} (set RESERVOIR_ENVOY_SRC)")
    is_git = (path / "HEAD").is_file() or (path / ".git").exists()
    if is_git:
        git = ["git", "-C", str(path)]
        commit = _run([*git, "rev-parse", "HEAD"], "git rev-parse").strip()
        date = _run([*git, "log", "-1", "--format=%cI", "HEAD"], "git log").strip()
        stamp = src / ".bench-commit"
        if not stamp.is_file() or stamp.read_text() != commit:
            shutil.rmtree(src, ignore_errors=True)
            src.mkdir(parents=True)
            archive = subprocess.run([*git, "archive", "HEAD"], capture_output=True, check=True)
            with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
                tar.extractall(src, filter="data")
            stamp.write_text(commit)
    else:
        src, commit, date = path, "(not a git snapshot)", "-"
    if not (src / "uv.lock").is_file():
        raise EnvoyUnavailable(f"{src} has no uv.lock: not an envoy source tree")
    version = "?"
    for line in (src / "src/envoy/__init__.py").read_text().splitlines():
        if line.startswith("__version__"):
            version = line.split("=", 1)[1].strip().strip("\"'")
    return {"src": src, "commit": commit, "date": date, "version": version}


def build_venv(src: Path, home: Path) -> Path:
    """envoy's own venv, from its lock file; rebuilt when the lock file or the interpreter
    (``RESERVOIR_ENVOY_PYTHON``) changes."""
    venv = home / "venv"
    python = venv / "bin" / "python"
    # Our interpreter by default (as Reservoir runs); envoy's image uses 3.13.
    base = os.environ.get("RESERVOIR_ENVOY_PYTHON") or sys.executable
    lock = hashlib.sha256((src / "uv.lock").read_bytes() + base.encode()).hexdigest()
    stamp = venv / ".bench-lock"
    if python.exists() and stamp.is_file() and stamp.read_text() == lock:
        return python
    shutil.rmtree(venv, ignore_errors=True)
    print("building envoy's venv from its uv.lock (once per lock file)...", flush=True)
    _run([base, "-m", "venv", str(venv)], "python -m venv")
    # The lock pins exact versions; a machine-wide pip constraints file must not move them.
    env = {**os.environ, "PIP_CONSTRAINT": ""}
    pip = [str(python), "-m", "pip", "install", "--quiet"]
    _run([*pip, "uv"], "pip install uv", env=env)
    requirements = home / "requirements.txt"
    _run(
        [str(venv / "bin" / "uv"), "export", "--project", str(src), "--frozen", "--no-dev",
         "--no-emit-project", "--no-hashes", "--quiet", "-o", str(requirements)],
        "uv export (envoy's lock file)",
    )  # fmt: skip
    _run([*pip, "-r", str(requirements)], "pip install envoy's locked requirements", env=env)
    _run([*pip, "--no-deps", str(src)], "pip install envoy", env=env)
    stamp.write_text(lock)
    return python


def fresh_database(url: str) -> str:
    """An empty database for envoy next to DATABASE_URL's; its asyncpg URL."""
    import psycopg

    parts = urlsplit(url)
    name = os.environ.get("RESERVOIR_ENVOY_DB") or f"{parts.path.lstrip('/')}_envoy"
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(scheme="postgresql", path=f"/{name}"))


def asyncpg_url(url: str) -> str:
    """The SQLAlchemy URL envoy wants for a plain postgres:// URL."""
    return "postgresql+asyncpg://" + url.split("://", 1)[1]


SEED_SQL = """
SET timezone = 'UTC';
INSERT INTO aggregator (aggregator_id, name, changed_time)
    VALUES (0, 'NULL AGGREGATOR', now()), (1, 'Bench', now());
SELECT setval('aggregator_aggregator_id_seq', 2, false);
INSERT INTO certificate (lfdi, expiry) VALUES (%(lfdi)s, now() + interval '10 years');
INSERT INTO aggregator_certificate_assignment (certificate_id, aggregator_id)
    SELECT certificate_id, 1 FROM certificate;
INSERT INTO site (aggregator_id, timezone_id, changed_time, lfdi, sfdi, device_category,
                  registration_pin, post_rate_seconds)
    SELECT 1, 'Australia/Brisbane', now(), lfdi, sfdi, 0, 1, 60
    FROM unnest(%(lfdis)s::text[], %(sfdis)s::bigint[]) AS s(lfdi, sfdi);
INSERT INTO site_control_group (site_control_group_id, description, primacy, fsa_id,
                                changed_time)
    VALUES (1, 'Bench', 0, 1, now());
SELECT setval('site_control_group_site_control_group_id_seq', 2, false);
INSERT INTO site_control_group_default (site_control_group_id, changed_time,
    import_limit_active_watts, export_limit_active_watts, generation_limit_active_watts,
    load_limit_active_watts)
    VALUES (1, now(), 5000, 5000, 5000, 5000);
INSERT INTO dynamic_operating_envelope (site_id, site_control_group_id, changed_time,
    start_time, duration_seconds, end_time, export_limit_watts, superseded)
    SELECT site_id, 1, now(), now() + interval '1 hour', 1800,
           now() + interval '1 hour 30 minutes', 1000, false
    FROM site;
INSERT INTO site_reading_type (aggregator_id, site_id, uom, data_qualifier, flow_direction,
    accumulation_behaviour, kind, phase, power_of_ten_multiplier, default_interval_seconds,
    changed_time, role_flags, mrid, group_mrid, group_id)
    SELECT 1, site_id, 38, 2, 1, 12, 37, 0, 0, 60, now(), 9, %(mrid)s,
           lpad(to_hex(site_id), 32, '0'), site_id
    FROM site;
INSERT INTO site_der_status (site_id, changed_time, state_of_charge_status,
                             state_of_charge_status_time)
    SELECT site_id, now(), 8000, now() FROM site;
"""


def seed_envoy(url: str, header: str, devices: int) -> dict:
    """Seed envoy's database; the seed in `sep2.endpoints`' shape, with envoy's ids.

    The MirrorMeterReading mRID is the one `sep2.READING_BODY` posts (envoy keys readings
    by it within each site's MirrorUsagePoint, whose id is the site's group id). Each site
    has reported a DERStatus once, as Reservoir's seeded devices have: a PUT updates it (the
    fleet's steady state) rather than racing to create it."""
    import psycopg

    identities = site_identities(devices)
    params = {
        "lfdi": lfdi_from_header(header),
        "lfdis": [lfdi for lfdi, _ in identities],
        "sfdis": [sfdi for _, sfdi in identities],
        "mrid": "1" * 32,
    }
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.transaction():
            for statement in filter(str.strip, SEED_SQL.split(";")):
                conn.execute(statement, params if "%(" in statement else None)
        conn.execute("ANALYZE")
        rows = conn.execute(
            "SELECT s.site_id, r.group_id FROM site s JOIN site_reading_type r USING (site_id) "
            "ORDER BY s.site_id"
        ).fetchall()
    return {"group": 1, "devices": [list(row) for row in rows]}


def envoy_env(url: str) -> dict[str, str]:
    """envoy's settings (pydantic-settings reads them from the environment)."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "DATABASE_URL": asyncpg_url(url),
        "CERT_HEADER": CERT_HEADER.lower(),
        "ENABLE_NOTIFICATIONS": "false",
        "PYTHONUNBUFFERED": "1",
    }


def start_envoy(envoy: dict, port: int, workers: int) -> subprocess.Popen:
    """envoy.server.main under uvicorn, from its own venv, in var/bench/envoy."""
    argv = [
        str(envoy["python"]), "-m", "uvicorn", "envoy.server.main:app", "--host", "127.0.0.1",
        "--port", str(port), "--workers", str(workers), *sep2.UVICORN_OPTIONS,
    ]  # fmt: skip
    with envoy["log"].open("wb") as out:
        return subprocess.Popen(
            argv, cwd=envoy["home"], env=envoy_env(envoy["url"]), stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip


def prepare_envoy(database_url: str) -> dict:
    """Source, venv and a migrated, empty database; raises EnvoyUnavailable with why."""
    var = Path(os.environ.get("RESERVOIR_VAR_DIR") or ROOT / "var")
    home = var / "bench" / "envoy"
    home.mkdir(parents=True, exist_ok=True)
    envoy = extract_source(os.environ.get("RESERVOIR_ENVOY_SRC") or DEFAULT_ENVOY_SRC, home)
    envoy["python"] = build_venv(envoy["src"], home)
    envoy["home"] = home
    envoy["log"] = home / "envoy.log"
    envoy["url"] = fresh_database(database_url)
    # The console script, not `python -m alembic`: envoy's alembic.ini sits next to a
    # directory named alembic, which would shadow the package from the working directory.
    _run(
        [str(envoy["python"].parent / "alembic"), "upgrade", "head"],
        "envoy's alembic migrations",
        cwd=envoy["src"] / "src/envoy/server",
        env=envoy_env(envoy["url"]),
    )
    return envoy


# --- Reservoir, as bench.sep2 sets it up ---------------------------------------------


def prepare_reservoir(devices: int, tmp: Path) -> tuple[dict, dict]:
    """A fresh `<name>_sep2` database migrated and seeded by bench.sep2; (env, seed)."""
    env, seed_file = sep2.prepare(devices, tmp)
    return env, json.loads(seed_file.read_text())


# --- the run -------------------------------------------------------------------------


def print_recorded(reason: str) -> None:
    """The reference server's last measured figures, when it cannot run here."""
    print(f"envoy not run: {reason}")
    print(f"reference server figures as last measured on this machine ({RECORDED_WITH}):")
    print(f"{'endpoint':24s} {'req/s':>7s} {'p50':>6s} {'p99':>6s}")
    for label, (rate, p50, p99) in sep2.ENVOY_RECORDED.items():
        print(f"{label:24s} {rate:7d} {p50:6d} {p99:6d}")


def _cell(runs: list[dict] | None, size: int | None) -> str:
    if runs is None:
        return f"{'-':>5s} {'-':>6s} {'-':>6s} {'-':>6s} {'-':>4s}"
    figures = sep2.median(runs)
    errors = figures["status"] + figures["socket"]
    return (
        f"{size:5d} {figures['rate']:6.0f} {figures['p50_us'] / 1000:6.1f} "
        f"{figures['p99_us'] / 1000:6.1f} {errors:4d}"
    )


def _first(*rates: float | None) -> str:
    if not any(rates):
        return ""
    return "  first pass " + " / ".join(f"{r:.0f}" if r else "-" for r in rates)


def _ratio(a: list[dict] | None, b: list[dict] | None) -> str:
    """The median of the rounds' ratios a / b (bench.sep2.ratio), or a dash."""
    value = sep2.ratio(a, b) if a is not None and b is not None else None
    return f"{'-':>6s}" if value is None else f"{value:6.2f}"


def prime(port: int, method: str, paths: list[str], body, headers, args, tmp):
    """(first-pass rate or None, body size, status) for one server and endpoint.

    As in bench.sep2, a GET over many devices' paths is first asked once per path (each
    answer rendered once, so a server that caches starts warm); then wrk warms it up for a
    second. A status of 400 or more means the server does not serve the endpoint."""
    status, size = sep2._probe(port, method, paths[0], headers, body)
    if status >= 400:
        return None, size, status
    first = (
        sep2.first_pass(port, paths, headers, args.connections)
        if method == "GET" and len(paths) > 1
        else None
    )
    warm = argparse.Namespace(**{**vars(args), "seconds": 1})
    sep2.wrk(f"http://127.0.0.1:{port}", paths, method, headers, body, warm, tmp)
    return first, size, status


def run(args, tmp: Path, envoy: dict, reservoir_env: dict, seed: dict, envoy_seed: dict) -> None:
    port, envoy_port, ceiling_port = sep2._free_port(), sep2._free_port(), sep2._free_port()
    logs = {name: tmp / f"{name}.log" for name in ("sep2", "ceiling")}
    servers = {
        "sep2": sep2.start_listener(port, args.workers, reservoir_env, logs["sep2"]),
        "ceiling": sep2._uvicorn(
            "bench.ceiling_asgi:application", ceiling_port, args.workers, reservoir_env,
            logs["ceiling"],
        ),
    }  # fmt: skip
    try:
        servers["envoy"] = start_envoy(envoy, envoy_port, args.workers)
        logs["envoy"] = envoy["log"]
        sep2._wait(port, servers["sep2"], logs["sep2"])
        sep2._wait(ceiling_port, servers["ceiling"], logs["ceiling"])
        try:
            sep2._wait(envoy_port, servers["envoy"], logs["envoy"])
        except RuntimeError as exc:
            print_recorded(f"envoy did not start: {str(exc).strip().splitlines()[-1][:160]}")
            return
        _table(args, tmp, seed, envoy_seed, envoy, (port, envoy_port, ceiling_port))
    finally:
        for proc in servers.values():
            sep2._stop(proc)


def _table(args, tmp, seed, envoy_seed, envoy, ports) -> None:
    port, envoy_port, ceiling_port = ports
    reservoir_headers = {
        CERT_HEADER: seed["header"],
        "X-Reservoir-Proxy-Secret": os.environ["SEP2_PROXY_SECRET"],
    }
    envoy_headers = {CERT_HEADER: seed["header"]}
    print(
        f"{args.devices} EndDevices under one aggregator, PostgreSQL, uvicorn --workers "
        f"{args.workers} each, wrk -t{args.threads} -c{args.connections}, "
        f"{args.rounds} rounds of {sep2.per_round(args).seconds} s per server; "
        f"envoy {envoy['version']} commit {envoy['commit']} ({envoy['date']}); "
        f"load average {os.getloadavg()[0]:.2f} at start"
    )
    print(
        f"{'':24s} {'Reservoir':^32s} {'envoy':^32s} {'ceiling':>7s} {'R/envoy':>7s} "
        f"{'R/ceil':>6s} {'e/ceil':>6s}"
    )
    print(
        f"{'endpoint':24s} "
        + f"{'bytes':>5s} {'req/s':>6s} {'p50':>6s} {'p99':>6s} {'err':>4s}  " * 2
        + f"{'req/s':>7s}"
    )
    envoy_paths_of = {label: paths for label, _, paths, _ in envoy_endpoints(envoy_seed)}
    not_served = []
    for label, method, paths, body in sep2.endpoints(seed):
        if args.only and args.only not in label:
            continue
        envoy_paths = envoy_paths_of[label]
        first, size, status = prime(port, method, paths, body, reservoir_headers, args, tmp)
        envoy_first, envoy_size, envoy_status = prime(
            envoy_port, method, envoy_paths, body, envoy_headers, args, tmp
        )
        loads = {"ceiling": sep2.ceiling_load(ceiling_port, size, reservoir_headers)}
        if status < 400:
            loads["ours"] = sep2.Load(
                f"http://127.0.0.1:{port}", paths, method, reservoir_headers, body
            )
        if envoy_status < 400:
            loads["theirs"] = sep2.Load(
                f"http://127.0.0.1:{envoy_port}", envoy_paths, method, envoy_headers, body
            )
        else:
            not_served.append(f"{label} ({method} {envoy_paths[0]} answered {envoy_status})")
        runs = sep2.interleaved(loads, args, tmp)
        ours, theirs = runs.get("ours"), runs.get("theirs")
        print(
            f"{label:24s} {_cell(ours, size)}  {_cell(theirs, envoy_size)}  "
            f"{sep2.median(runs['ceiling'])['rate']:7.0f} "
            f"{_ratio(ours, theirs):>7s} {_ratio(ours, runs['ceiling'])} "
            f"{_ratio(theirs, runs['ceiling'])}"
            + ("" if ours else f"  Reservoir answered {status}")
            + _first(first, envoy_first)
        )
    print(
        "req/s, p50 and p99 (ms) are each server's median round, and a ratio the median of "
        "the rounds' ratios (each round runs the three servers back to back); "
        f"err = non-2xx answers + socket errors, all rounds; ceiling = bench.ceiling_asgi "
        f"answering Reservoir's byte count; first pass = req/s (Reservoir / envoy) "
        "GETting every device's path once before the run, all rendered. "
        f"Load average {os.getloadavg()[0]:.2f} at the end "
        f"({os.cpu_count()} cores)."
    )
    for line in not_served:
        print(f"envoy does not serve: {line}")


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("SEP2_PROXY_SECRET", os.urandom(32).hex())
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers (each server)")
    sep2.add_timing_arguments(parser)
    args = parser.parse_args(argv if argv is not None else [])
    if shutil.which("wrk") is None:
        print_recorded("wrk is not installed (apt-get install -y wrk)")
        return
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://")):
        print_recorded("envoy needs PostgreSQL and DATABASE_URL does not name one")
        return
    with tempfile.TemporaryDirectory(prefix="bench-sep2-envoy-") as tmp:
        tmp_path = Path(tmp)
        started = time.perf_counter()
        try:
            envoy = prepare_envoy(database_url)
        except EnvoyUnavailable as exc:
            print_recorded(str(exc))
            return
        reservoir_env, seed = prepare_reservoir(args.devices, tmp_path)
        envoy_seed = seed_envoy(envoy["url"], seed["header"], args.devices)
        print(f"set up in {time.perf_counter() - started:.0f} s")
        run(args, tmp_path, envoy, reservoir_env, seed, envoy_seed)


if __name__ == "__main__":
    main(sys.argv[1:])
