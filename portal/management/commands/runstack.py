"""Start the whole system on one machine: ASGI server, Celery worker and beat.

Each part is a real process. The command waits until the portal answers, prints the URLs
and demo logins, and stops everything on Ctrl-C or when any part dies.
"""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from portal import processes
from portal.demo import credentials_path, demo_banner


@dataclass(frozen=True)
class Part:
    name: str
    argv: list[str]


def stack_parts(
    *, host: str, port: int, sep2_port: int = 8001, demo_fleets: bool = True
) -> list[Part]:
    """The portal listener, the 2030.5 listener, the Celery worker and beat, with the very
    command lines deploy/systemd runs (portal.processes), plus the demo Modbus fleet."""
    env = {
        "RESERVOIR_WORKERS": "1",  # one developer machine; deploy/ defaults to the cores
        **os.environ,
        "RESERVOIR_WEB_BIND": f"{host}:{port}",
        "RESERVOIR_SEP2_BIND": f"127.0.0.1:{sep2_port}",
    }
    python = sys.executable
    parts = [Part(name, processes.argv(name, env)) for name in processes.NAMES]
    if not demo_fleets:
        return parts
    return [
        *parts,
        # A modest simulated Modbus fleet for the connectors to poll (seed_demo registered it).
        Part(
            "modbus-sim",
            [
                python,
                "manage.py",
                "simulate_modbus",
                "--count",
                "20",
                "--time-scale",
                "1",
                "--register",
                "cascadia",
            ],
        ),
    ]


def sep2_part(*, port: int, tls_port: int | None = None) -> tuple[Part | None, str]:
    """nginx terminating mutual TLS for 2030.5 on `tls_port` (8443) in front of the 2030.5
    listener on `port`, when nginx and the demo PKI exist."""
    from portal.devstack import SEP2_TLS_PORT, demo_dir, nginx_binary, nginx_config_write

    tls_port = tls_port or SEP2_TLS_PORT
    nginx = nginx_binary()
    if nginx is None:
        return None, "nginx is not installed: 2030.5 over mutual TLS is not served.\n"
    if not (demo_dir() / "server.pem").exists():
        return None, "No demo PKI (run `manage.py sep2_demo_pki`): 2030.5 TLS is not served.\n"
    conf = nginx_config_write(upstream_port=port, tls_port=tls_port)
    message = f"2030.5 (mutual TLS): https://127.0.0.1:{tls_port}/dcap\n"
    return Part("sep2-tls", [nginx, "-p", str(conf.parent), "-c", str(conf)]), message


def fleet_part(*, devices: int = 20) -> Part:
    """A modest simulated 2030.5 fleet talking to the mutual-TLS endpoint."""
    manage = str(settings.BASE_DIR / "manage.py")
    argv = [sys.executable, manage, "simulate_sep2", "--devices", str(devices)]
    return Part("sep2-fleet", argv)


class Command(BaseCommand):
    help = "Run the portal and 2030.5 listeners, Celery worker and beat, nginx until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--sep2-port", type=int, default=8001, help="the 2030.5 listener (loopback only)"
        )
        parser.add_argument(
            "--tls-port", type=int, default=None, help="nginx's mutual-TLS port (8443)"
        )
        parser.add_argument(
            "--no-demo-fleets",
            action="store_true",
            help="without the simulated Modbus and 2030.5 fleets (make conformance)",
        )

    def handle(self, *args, host, port, sep2_port, tls_port, no_demo_fleets, **options):
        procs: dict[str, subprocess.Popen] = {}
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            parts = stack_parts(
                host=host, port=port, sep2_port=sep2_port, demo_fleets=not no_demo_fleets
            )
            tls_part, tls_message = sep2_part(port=sep2_port, tls_port=tls_port)
            if tls_part:
                parts.append(tls_part)
                path = credentials_path()
                if not no_demo_fleets and path.exists() and "sep2" in json.loads(path.read_text()):
                    parts.append(fleet_part())
            env = {**os.environ, "PYTHONUNBUFFERED": "1"}
            for part in parts:
                procs[part.name] = subprocess.Popen(  # noqa: S603  (our own interpreter)
                    part.argv, cwd=settings.BASE_DIR, env=env, start_new_session=True
                )
            self._wait_until_up(f"http://{host}:{port}/accounts/login/", procs)
            path = credentials_path()
            data = json.loads(path.read_text()) if path.exists() else {}
            self.stdout.write(demo_banner(data))
            self.stdout.write(tls_message)
            self.stdout.write("Press Ctrl-C to stop everything.\n")
            while not stopping:
                for name, proc in procs.items():
                    if proc.poll() is not None:
                        raise CommandError(f"{name} exited with code {proc.returncode}")
                time.sleep(0.5)
        finally:
            self._terminate(procs)

    def _wait_until_up(self, url: str, procs, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    raise CommandError(f"{name} exited with code {proc.returncode} while starting")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (local URL)
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise CommandError(f"The portal did not answer at {url} within {timeout_s:.0f} s")

    def _terminate(self, procs) -> None:
        for proc in procs.values():
            if proc.poll() is None:
                proc.terminate()  # the main process shuts its own children down cleanly
        deadline = time.monotonic() + 10
        for proc in procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        self.stdout.write("Stopped.\n")
