"""Start real Reservoir processes (ASGI server, Celery worker, beat) against the test database."""

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from django.conf import settings
from django.db import connection

from portal import processes

ROOT = Path(settings.BASE_DIR)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_database_url() -> str:
    """A DATABASE_URL naming the database the test run is using right now."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


def subprocess_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "CELERY_BROKER_DIR": str(tmp_path / "broker"),
        "REALTIME_RELAY_DIR": str(tmp_path / "realtime-relay"),
        "PYTHONUNBUFFERED": "1",
        # The servers and the test share the proxy secret, so the test can stand in for nginx.
        "SEP2_PROXY_SECRET": settings.SEP2_PROXY_SECRET,
        **extra,
    }
    return env


@contextlib.contextmanager
def running(argv: list[str], env: dict[str, str], log: Path):
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def celery_worker(env, log):
    argv = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "portal",
        "worker",
        "-l",
        "info",
        "--concurrency",
        "1",
        "--pool",
        "solo",
        "-n",
        f"test-{os.getpid()}@%h",
    ]
    return running(argv, env, log)


def celery_beat(env, log, tmp_path: Path):
    argv = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "portal",
        "beat",
        "-l",
        "info",
        "--pidfile",
        str(tmp_path / "beat.pid"),
    ]
    return running(argv, env, log)


@contextlib.contextmanager
def asgi_server(env, log):
    """The portal listener, with portal.processes' command line; yields its base URL."""
    port = free_port()
    argv = processes.argv(
        "web", {"RESERVOIR_WEB_BIND": f"127.0.0.1:{port}", "RESERVOIR_WORKERS": "1"}
    )
    with running(argv, env, log) as proc:
        base = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base}/accounts/login/", proc, log)
        yield base


@contextlib.contextmanager
def sep2_server(env, log, *, host: str = "127.0.0.1"):
    """The 2030.5 listener (no --proxy-headers), with portal.processes' command line."""
    port = free_port()
    config = {"RESERVOIR_SEP2_BIND": f"{host}:{port}", "RESERVOIR_WORKERS": "1"}
    with running(processes.argv("sep2", config), env, log) as proc:
        base = f"http://{host}:{port}"
        wait_for_http(f"{base}/tm", proc, log, any_status=True)
        yield base


def wait_for_http(url: str, proc, log: Path, timeout_s: float = 60, any_status=False) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            if any_status:
                return
            time.sleep(0.2)
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer in {timeout_s} s:\n{log.read_text()[-3000:]}")


def wait_until(predicate, *, timeout_s: float, what: str, logs: list[Path] = ()) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    tails = "\n".join(f"--- {p.name}\n{p.read_text()[-2000:]}" for p in logs if p.exists())
    raise AssertionError(f"timed out waiting for {what}\n{tails}")
