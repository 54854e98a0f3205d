"""A private Reservoir stack for fault drills, on loopback only.

Its own PostgreSQL cluster (initdb/pg_ctl) and its own redis-server, each on a port and a
data directory of its own, so a drill may stop and start them without touching the
machine's shared services; then the portal and 2030.5 listeners, the Celery worker and beat,
started with exactly the command lines `make run` and deploy/systemd use (portal.processes).
"""

import contextlib
import hashlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from portal import nginx, processes

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = Path(os.environ.get("RESERVOIR_PG_BIN", "/usr/lib/postgresql/15/bin"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def available() -> str:
    """Why the drills cannot run here, or "" when they can."""
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        return "nginx is not installed"
    if not (PG_BIN / "pg_ctl").exists():
        return f"no PostgreSQL server binaries in {PG_BIN} (set RESERVOIR_PG_BIN)"
    if shutil.which("redis-server") is None:
        return "redis-server is not installed"
    return ""


def _copy(source: Path, target: Path) -> None:
    """Copy a cluster directory keeping owners and modes (PostgreSQL insists on both)."""
    subprocess.run(["cp", "-a", str(source), str(target)], check=True, timeout=300)


class PrivatePostgres:
    """A throw-away PostgreSQL cluster; as root it runs as the `postgres` user."""

    def __init__(self, root: Path, port: int):
        self.dir = root / "pg"
        self.port = port
        self.log = root / "postgres.log"

    def _run(self, *argv: str) -> None:
        command = [str(PG_BIN / argv[0]), *argv[1:]]
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        self.dir.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
            shutil.chown(self.log.parent, "postgres", "postgres")
        self.dir.chmod(0o700)
        self._run("initdb", "-D", str(self.dir), "-A", "trust", "-U", "postgres", "--no-sync")

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c max_connections=200"
        )
        self._run("pg_ctl", "-D", str(self.dir), "-o", options, "-l", str(self.log), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.dir), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        return (self.dir / "postmaster.pid").exists()

    def url(self, name: str = "drill") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"


class PrivateRedis:
    """A redis-server with an append-only file, so a restart keeps what the broker held."""

    def __init__(self, root: Path, port: int):
        self.dir = root / "redis"
        self.port = port
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.dir.mkdir(exist_ok=True)
        argv = [
            shutil.which("redis-server") or "redis-server",
            "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
            "--save", "", "--appendonly", "yes", "--appendfsync", "always",
        ]  # fmt: skip
        with (self.dir / "redis.log").open("ab") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return
            time.sleep(0.1)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
        self.proc = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"


@dataclass
class Stack:
    """The whole system on private stores; `start()` it, `close()` it."""

    root: Path
    sep2_workers: int = 2
    heartbeat_s: int = 1
    web_port: int = field(default_factory=free_port)
    sep2_port: int = field(default_factory=free_port)
    proxy_secret: str = field(default_factory=lambda: secrets.token_hex(16))
    tls_port: int = 0
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    def __post_init__(self):
        self.root.mkdir(parents=True, exist_ok=True)
        self.postgres = PrivatePostgres(self.root, free_port())
        self.redis = PrivateRedis(self.root, free_port())

    @property
    def web(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def sep2(self) -> str:
        return f"http://127.0.0.1:{self.sep2_port}"

    def env(self, name: str = "") -> dict[str, str]:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": self.postgres.url(),
            "REDIS_URL": self.redis.url(),
            "RESERVOIR_VAR_DIR": str(self.root / "var"),
            "RESERVOIR_WEB_BIND": f"127.0.0.1:{self.web_port}",
            "RESERVOIR_SEP2_BIND": f"127.0.0.1:{self.sep2_port}",
            "RESERVOIR_WORKERS": str(self.sep2_workers if name == "sep2" else 1),
            "RESERVOIR_CELERY_CONCURRENCY": "1",
            "SEP2_TRUSTED_PROXIES": "127.0.0.1",
            "SEP2_PROXY_SECRET": self.proxy_secret,
            "HEARTBEAT_INTERVAL_S": str(self.heartbeat_s),
            "DATABASE_UNAVAILABLE_RETRY_AFTER_S": "1",
            "SEP2_NOTIFY_ALLOW_PRIVATE": "1",  # the drill's notification receiver: loopback
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        return env

    def manage(self, *args: str, timeout_s: float = 600) -> str:
        done = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *args],
            cwd=ROOT, env=self.env(), capture_output=True, text=True, timeout=timeout_s,
        )  # fmt: skip
        if done.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
        return done.stdout

    def _database(self) -> None:
        """A migrated database: a copy of the cached cluster when the migrations match."""
        digest = hashlib.sha256(str(PG_BIN).encode())
        for path in sorted(ROOT.glob("*/migrations/*.py")):
            digest.update(path.name.encode() + path.read_bytes())
        cached = ROOT / "var" / "drill" / f"pg-{digest.hexdigest()[:16]}"
        if cached.is_dir():
            _copy(cached, self.postgres.dir)
            if os.geteuid() == 0:
                shutil.chown(self.postgres.log.parent, "postgres", "postgres")
            self.postgres.start()
            return
        self.postgres.init()
        self.postgres.start()
        subprocess.run(
            [str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.postgres.port),
             "-U", "postgres", "drill"],
            check=True, timeout=60,
        )  # fmt: skip
        self.manage("migrate", "--noinput")
        self.postgres.stop()
        for old in cached.parent.glob("pg-*"):
            shutil.rmtree(old, ignore_errors=True)
        _copy(self.postgres.dir, cached)
        self.postgres.start()

    def start(self) -> None:
        (self.root / "var").mkdir(exist_ok=True)
        self.redis.start()
        self._database()
        for name in processes.NAMES:
            self.start_process(name)
        self.wait_http(f"{self.web}/accounts/login/")
        self.wait_http(f"{self.sep2}/tm", any_status=True)

    def start_process(self, name: str) -> subprocess.Popen:
        argv = processes.argv(name, self.env(name))
        if name == "beat":
            argv += ["--pidfile", str(self.root / "beat.pid")]
        log = (self.root / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            argv, cwd=ROOT, env=self.env(name), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self.procs[name] = proc
        return proc

    def signal(self, name: str, sig: int) -> None:
        """Send `sig` to the process and everything it started (its session)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.procs[name].pid, sig)

    def kill(self, name: str) -> None:
        self.signal(name, signal.SIGKILL)
        self.procs[name].wait(timeout=30)

    def workers(self, name: str) -> list[int]:
        """The pids of uvicorn's worker processes under `name` (multiprocessing spawns them;
        its resource tracker is a child too, but not a worker)."""
        pid = self.procs[name].pid
        found = []
        for task in Path(f"/proc/{pid}/task").glob("*/children"):
            for child in task.read_text().split():
                with contextlib.suppress(OSError):
                    if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                        found.append(int(child))
        return found

    def nginx_start(self, pki: dict) -> int:
        """nginx terminating mutual TLS in front of the 2030.5 listener, with the config
        `make run` writes (portal.nginx: the committed snippets, one upstream server per
        uvicorn worker); its port. It runs as the process "nginx"."""
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        run = self.root / "nginx"
        run.mkdir(exist_ok=True)
        secret_conf = run / "proxy-secret.conf"
        secret_conf.write_text(
            f'proxy_set_header X-Reservoir-Proxy-Secret "{self.proxy_secret}";\n'
        )
        self.tls_port = free_port()
        conf = run / "nginx.conf"
        conf.write_text(
            nginx.sep2_conf(
                run=run,
                upstream_port=self.sep2_port,
                workers=self.sep2_workers,
                tls_port=self.tls_port,
                server_cert=Path(pki["server_cert"]),
                server_key=Path(pki["server_key"]),
                ca_bundle=Path(pki["ca_bundle"]),
                secret_conf=secret_conf,
                root=os.geteuid() == 0,
            )
        )
        log = (self.root / "nginx.log").open("ab")
        self.procs["nginx"] = subprocess.Popen(
            [binary, "-p", str(run), "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.tls_port)),
            ):
                return self.tls_port
            time.sleep(0.1)
        raise RuntimeError(f"nginx did not start: see {run / 'error.log'}")

    def children(self, name: str) -> list[int]:
        """The pids of the process's direct children (a Celery worker's pool processes)."""
        pid = self.procs[name].pid
        found = []
        for task in Path(f"/proc/{pid}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                found += [int(child) for child in task.read_text().split()]
        return found

    def wait_http(self, url: str, *, any_status: bool = False, timeout_s: float = 90) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited: see {self.root / (name + '.log')}")
            try:
                with urllib.request.urlopen(url, timeout=5):
                    return
            except urllib.error.HTTPError:
                if any_status:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{url} did not answer within {timeout_s:.0f} s")

    def close(self) -> None:
        for name in list(self.procs):
            self.signal(name, signal.SIGCONT)
            self.signal(name, signal.SIGTERM)
        for name, proc in self.procs.items():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.signal(name, signal.SIGKILL)
                proc.wait(timeout=15)
        self.procs.clear()
        self.redis.stop()
        if self.postgres.running():
            with contextlib.suppress(subprocess.CalledProcessError):
                self.postgres.stop("immediate")
