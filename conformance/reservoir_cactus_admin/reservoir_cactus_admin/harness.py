"""Run cactus-client's server test procedures against Reservoir, one procedure at a time,
each isolated: its own sandbox program and dispatch group, and its own aggregator and
device certificates, issued through /api/v1 from CSRs made here (the keys never leave
this machine). Nothing of the demo is used, and nothing outside the run's programs and
clients is touched.

Prints a table (procedure | result | first failing check) and writes JUnit XML.

    python -m reservoir_cactus_admin.harness --api http://127.0.0.1:9050/api/v1 \\
        --dcap https://127.0.0.1:9051/dcap --serca ca.pem --out var/conformance/runs \\
        (--token T | --username U --password P) [--notifications URL] [--only S-ALL-01 ...]
"""

import argparse
import json
import os
import secrets
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import UTC, datetime
from pathlib import Path

import yaml
from cactus_client.sep2 import convert_lfdi_to_sfdi, lfdi_from_cert_file
from cactus_test_definitions.server.test_procedures import (
    TestProcedureId,
    get_all_test_procedures,
)
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from reservoir_cactus_admin.actions import DEFAULT_DURATION_S, SCHEDULED_LEAD_S
from reservoir_cactus_admin.api import Api, ApiError, token_for
from reservoir_cactus_admin.plugin import STATE_ENV
from reservoir_cactus_admin.report import Outcome, first_failure, render_table, write_junit

# A 72-hour soak: never part of a run unless asked for by name.
SOAK = {"S-ALL-50"}
# The bounded CI subset: discovery, registration, readings, controls, one subscription.
# Readings by S-ALL-47 (a site and a device MUP, readings POSTed, 11 s), not S-ALL-06,
# whose post-rate waits take 3.5 minutes; the full run has both.
CI_SUBSET = ["S-ALL-01", "S-ALL-03", "S-ALL-47", "S-ALL-11", "S-ALL-19", "S-ALL-25"]
# A PIN both check-digit conventions accept: 2030.5's (all digits sum to 0 mod 10) and the
# suite's (last digit = sum of the first five mod 10); true when the last digit is 0 or 5.
CLIENT_PIN = 111115
CLIENT_PEN = 12345
MAX_WATTS = 5000
PROGRAM_FIELDS = {
    "status": "active",
    "profile": "csip_aus",
    "is_sandbox": True,
    "poll_rate_s": 10,
    "post_rate_s": 60,
    "telemetry_cadence_s": 60,
    "control_delivery_s": 60,
    "max_events_per_day": None,
    "max_events_per_year": None,
    "min_duration_min": 1,
    "max_duration_min": 1440,
    "allowed_weekdays": "0,1,2,3,4,5,6",
    "window_start": None,
    "window_end": None,
    "min_notice_min": 0,
    "min_rest_min": 0,
}


def procedure_timeout(definition, base_s: int) -> int:
    """The per-procedure limit: `base_s` plus the waits the procedure itself prescribes
    (S-ALL-41 and S-ALL-46 wait over 5 minutes on purpose), plus, once, the lead and
    duration the harness gives a scheduled control whose start the procedure leaves open
    (S-ALL-41 waits for its first one to complete before its own waits)."""
    waits = 0
    open_start = 0
    for step in definition.steps:
        action = step.action
        if str(action.type) == "wait":
            waits += int((action.parameters or {}).get("duration_seconds", 0))
        for instruction in step.admin_instructions or []:
            params = instruction.parameters or {}
            if (
                str(instruction.type) == "create-der-control"
                and params.get("status") == "scheduled"
                and params.get("start_offset_seconds") is None
            ):
                duration = int(params.get("duration_seconds") or DEFAULT_DURATION_S)
                open_start = max(open_start, SCHEDULED_LEAD_S + duration)
    return base_s + waits + open_start


def _key_and_csr(name: str) -> tuple[bytes, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name[:64])]))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem, csr.public_bytes(serialization.Encoding.PEM).decode()


def _device_lfdi() -> str:
    """A fresh LFDI for the device an aggregator registers (no certificate of its own)."""
    return secrets.token_hex(20).upper()


class Harness:
    def __init__(self, args: argparse.Namespace, api: Api):
        self.args = args
        self.api = api
        self.out = Path(args.out).absolute()
        self.stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        self.run_dir = self.out / self.stamp
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.procedures = get_all_test_procedures()
        # Every client issued in this run, revoked when the run ends (revoke_all).
        self.issued: list[int] = []
        self._issued_lock = threading.Lock()

    # --- set-up through the API -------------------------------------------------------------

    def _sandbox(self, procedure: str) -> dict:
        tag = f"{procedure.lower()}-{self.stamp.lower()}-{secrets.token_hex(2)}"
        name = f"Conformance {procedure} {self.stamp}"
        program = self.api.post(
            "programs/",
            {
                **PROGRAM_FIELDS,
                "name": name,
                "slug": f"cactus-{tag}"[:60],
                "description": "cactus-client conformance sandbox (bin/conformance).",
            },
        )
        group = self.api.post("dispatch-groups/", {"program": program["id"], "name": procedure})
        return {
            "program": program["id"],
            "group": group["id"],
            "program_name": name,
            "program_slug": f"cactus-{tag}"[:50],
            "program_fields": PROGRAM_FIELDS,
        }

    def _client(self, folder: Path, procedure: str, alias: str, kind: str, program: int) -> dict:
        key_pem, csr = _key_and_csr(f"cactus {procedure} {alias}")
        issued = self.api.post(
            "sep2/clients/issue/",
            {
                "csr": csr,
                "kind": kind,
                "name": f"cactus {procedure} {alias}"[:120],
                "program": program,
            },
        )
        cert_file = folder / f"{alias}.pem"
        key_file = folder / f"{alias}.key"
        cert_file.write_text(issued["certificate"] + issued["chain"])
        key_file.write_bytes(key_pem)
        os.chmod(key_file, 0o600)
        with self._issued_lock:
            self.issued.append(issued["client"]["id"])
        cert_lfdi = lfdi_from_cert_file(str(cert_file)).upper()
        lfdi = cert_lfdi if kind == "device" else _device_lfdi()
        return {
            "client": issued["client"]["id"],
            "kind": kind,
            "cert_lfdi": cert_lfdi,
            "lfdi": lfdi,
            "sfdi": convert_lfdi_to_sfdi(lfdi),
            "certificate_file": str(cert_file),
            "key_file": str(key_file),
        }

    def _config(self, folder: Path, clients: dict[str, dict]) -> Path:
        config = {
            "output_dir": str(folder / "output"),
            "server": {
                "device_capability_uri": self.args.dcap,
                "verify_ssl": True,
                "verify_host_name": not self.args.no_verify_host_name,
                "serca_pem_file": str(Path(self.args.serca).absolute()),
                "notification_uri": self.args.notifications or None,
                "pen": self.args.server_pen,
                "refetch_delay_ms": 0,
            },
            "clients": [
                {
                    "id": alias,
                    "type": c["kind"],
                    "certificate_file": c["certificate_file"],
                    "key_file": c["key_file"],
                    "lfdi": c["lfdi"],
                    "sfdi": c["sfdi"],
                    "pen": CLIENT_PEN,
                    "pin": CLIENT_PIN,
                    "max_watts": MAX_WATTS,
                }
                for alias, c in clients.items()
            ],
        }
        (folder / "output").mkdir(exist_ok=True)
        path = folder / "cactus.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    def revoke_all(self) -> None:
        """Revoke every client the run issued, once no procedure is running any more.

        Each revocation rewrites the endpoint's CRL and reloads its nginx (issue 16), and a
        reload closes every idle keep-alive connection: a procedure still running that
        sends on one at that instant loses the request (a broken pipe; seen in CI, when
        S-ALL-47 was POSTing readings as four other procedures ended). Revoking as each
        procedure ended had this run disturb itself."""
        for client in self.issued:
            try:
                self.api.post(f"sep2/clients/{client}/revoke/")
            except ApiError as exc:
                print(f"  (could not revoke client {client}: {exc})", file=sys.stderr)

    def _close(self, state: Path) -> None:
        """Close the run's programs: their history stays, nothing is dispatched in them."""
        data = json.loads(state.read_text())
        programs = {data["program"]} | {p["program"] for p in data.get("fsa_programs", {}).values()}
        for program in sorted(programs):
            try:
                self.api.patch(f"programs/{program}/", {"status": "closed"})
            except ApiError as exc:
                print(f"  (could not close program {program}: {exc})", file=sys.stderr)

    # --- one procedure ------------------------------------------------------------------------

    def run_one(self, procedure: str) -> Outcome:
        started = time.monotonic()
        try:
            return self._run_one(procedure, started)
        except Exception as exc:  # one procedure's trouble never stops the others
            return Outcome(procedure, "ERROR", f"harness: {exc!r}", time.monotonic() - started)

    def _run_one(self, procedure: str, started: float) -> Outcome:
        definition = self.procedures[TestProcedureId(procedure)]
        folder = self.run_dir / procedure
        folder.mkdir(parents=True, exist_ok=True)
        clients: dict[str, dict] = {}
        try:
            sandbox = self._sandbox(procedure)
            for index, required in enumerate(definition.preconditions.required_clients):
                wanted = str(required.client_type) if required.client_type else ""
                kind = wanted if wanted in ("device", "aggregator") else self.args.any_client
                # cactus-client derives its mRIDs from the client's id: one of the run's
                # own, so that a second run against the same server (same database) does
                # not present the first run's mRIDs from new EndDevices (refused: 403).
                alias = f"{procedure.lower()}-{index}-{kind}-{self.stamp.lower()}"
                clients[alias] = self._client(folder, procedure, alias, kind, sandbox["program"])
        except ApiError as exc:
            return Outcome(
                procedure, "ERROR", f"set-up through the API: {exc}", time.monotonic() - started
            )
        state = folder / "reservoir-state.json"
        api = {"base_url": self.api.base_url, "token": self.api.token, "utility": self.api.utility}
        state.write_text(json.dumps({"api": api, **sandbox, "clients": clients}, indent=2))
        os.chmod(state, 0o600)  # it holds the API token
        config = self._config(folder, clients)
        timeout = procedure_timeout(definition, self.args.timeout)
        command = [
            self.args.cactus,
            "run",
            "-c",
            str(config),
            "--headless",
            "--timeout",
            str(timeout),
            procedure,
            *clients,
        ]
        env = {**os.environ, STATE_ENV: str(state)}
        with (
            open(folder / "cactus-stdout.txt", "w") as out,
            open(folder / "cactus-stderr.txt", "w") as err,
        ):
            try:
                code = subprocess.run(  # noqa: S603 (the venv's own cactus)
                    command, env=env, stdout=out, stderr=err, timeout=timeout + 120
                ).returncode
            except subprocess.TimeoutExpired:
                code = -1
        self._close(state)
        outcome = self._judge(procedure, folder, code)
        outcome.seconds = time.monotonic() - started
        return outcome

    def _judge(self, procedure: str, folder: Path, code: int) -> Outcome:
        runs = sorted((folder / "output").glob("**/.result"))
        result_text = runs[-1].read_text().strip() if runs else ""
        log_path = runs[-1].parent / "cactus.log" if runs else None
        log = log_path.read_text(errors="replace") if log_path and log_path.exists() else ""
        if not log:
            log = (folder / "cactus-stderr.txt").read_text(errors="replace")
        output_dir = str(runs[-1].parent) if runs else str(folder)
        if result_text == "PASS" and code == 0:
            return Outcome(procedure, "PASS", "", output_dir=output_dir)
        reason = first_failure(log) or f"cactus exited {code} (see {folder})"
        return Outcome(procedure, "FAIL" if runs else "ERROR", reason, output_dir=output_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--api", required=True, help="Reservoir's /api/v1 base URL")
    parser.add_argument("--token", default=os.environ.get("RESERVOIR_API_TOKEN", ""))
    parser.add_argument("--username", default=os.environ.get("RESERVOIR_API_USER", ""))
    parser.add_argument("--password", default=os.environ.get("RESERVOIR_API_PASSWORD", ""))
    parser.add_argument("--utility", default="", help="utility slug (X-Reservoir-Utility)")
    parser.add_argument("--dcap", required=True, help="the 2030.5 DeviceCapability URI (mTLS)")
    parser.add_argument("--serca", required=True, help="PEM the server's certificate chains to")
    parser.add_argument("--notifications", default="", help="cactus-client-notifications URL")
    parser.add_argument("--out", required=True, help="where runs, reports and JUnit XML go")
    parser.add_argument("--cactus", default=str(Path(sys.executable).with_name("cactus")))
    parser.add_argument("--timeout", type=int, default=300, help="per procedure, seconds")
    parser.add_argument("--server-pen", type=int, default=0)
    parser.add_argument("--no-verify-host-name", action="store_true")
    parser.add_argument(
        "--any-client",
        choices=("aggregator", "device"),
        default="aggregator",
        help="the client kind for procedures that accept any",
    )
    parser.add_argument("--jobs", type=int, default=4, help="procedures run side by side")
    parser.add_argument("--subset", choices=("all", "ci"), default="all")
    parser.add_argument("--only", nargs="*", default=[], help="these procedures, in this order")
    parser.add_argument("--exclude", nargs="*", default=[])
    args = parser.parse_args(argv)

    token = args.token
    if not token:
        if not (args.username and args.password):
            parser.error("give --token, or --username and --password (or RESERVOIR_API_* env)")
        token = token_for(args.api, args.username, args.password)
    api = Api(args.api, token, args.utility)
    harness = Harness(args, api)

    known = [str(p) for p in harness.procedures]
    if args.only:
        chosen = args.only
    elif args.subset == "ci":
        chosen = CI_SUBSET
    else:
        chosen = [p for p in known if p not in SOAK]
    unknown = [p for p in chosen if p not in known]
    if unknown:
        parser.error(f"unknown procedures: {unknown}")
    chosen = [p for p in chosen if p not in args.exclude]

    started = time.monotonic()
    print(f"{len(chosen)} procedure(s), {args.jobs} at a time, {args.timeout} s each at most")
    # Procedures are isolated (own program, own clients), so they may run side by side.
    by_procedure = {}
    try:
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            futures = {pool.submit(harness.run_one, p): p for p in chosen}
            for future in as_completed(futures):
                outcome = future.result()
                by_procedure[outcome.procedure] = outcome
                line = f"{outcome.procedure} {outcome.result} ({outcome.seconds:.0f} s)"
                print(f"{line} {outcome.first_failure[:160]}", flush=True)
    finally:
        harness.revoke_all()
    outcomes = [by_procedure[p] for p in chosen]
    seconds = time.monotonic() - started
    table = render_table(outcomes)
    print()
    print(table)
    print(f"took {seconds:.0f} s; outputs in {harness.run_dir}")
    (harness.run_dir / "table.txt").write_text(table + f"\ntook {seconds:.0f} s\n")
    write_junit(outcomes, harness.run_dir / "junit.xml", seconds)
    (harness.out / "latest").unlink(missing_ok=True)
    (harness.out / "latest").symlink_to(harness.run_dir.name)
    print(f"JUnit XML: {harness.run_dir / 'junit.xml'}")
    return 0 if all(o.result == "PASS" for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
