"""The command lines of Reservoir's long-running processes, in one place.

`manage.py runstack` (make run) starts these, and the systemd units in deploy/systemd run
`python -m portal.processes <name>`, which execs exactly the same command line. The
knobs are environment variables, so a unit's EnvironmentFile and make run agree:

- RESERVOIR_WEB_BIND (127.0.0.1:8000): the portal listener, behind the site's proxy.
- RESERVOIR_SEP2_BIND (127.0.0.1:8001): the 2030.5 listener; only nginx may reach it.
- RESERVOIR_WORKERS (the number of cores): uvicorn workers per listener.
- RESERVOIR_CELERY_CONCURRENCY (the number of cores): Celery worker processes.
"""

import os
import sys
from collections.abc import Mapping

NAMES = ("web", "sep2", "worker", "beat")


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _count(env: Mapping[str, str], name: str) -> int:
    value = env.get(name, "")
    return int(value) if value.strip() else _cores()


def worker_count(env: Mapping[str, str]) -> int:
    """How many uvicorn workers each listener runs (RESERVOIR_WORKERS)."""
    return _count(env, "RESERVOIR_WORKERS")


def _bind(env: Mapping[str, str], name: str, default: str) -> tuple[str, int]:
    host, _, port = env.get(name, default).rpartition(":")
    return host.strip("[]"), int(port)


def _uvicorn(env: Mapping[str, str], app: str, bind: tuple[str, int], *extra: str) -> list[str]:
    host, port = bind
    argv = [sys.executable, "-m", "uvicorn", app, "--host", host, "--port", str(port)]
    workers = worker_count(env)
    if workers > 1:
        argv += ["--workers", str(workers)]
    return [*argv, *extra, "--no-access-log"]


def argv(name: str, env: Mapping[str, str] | None = None) -> list[str]:
    """The command line of process `name` (one of NAMES), configured by `env`."""
    env = os.environ if env is None else env
    python = sys.executable
    if name == "web":
        bind = _bind(env, "RESERVOIR_WEB_BIND", "127.0.0.1:8000")
        # --proxy-headers: the portal believes X-Forwarded-* from its own reverse proxy. It
        # never sees a 2030.5 path or a certificate header (portal.listeners.PortalHttp).
        ws = ("--ws", "websockets-sansio")
        return _uvicorn(env, "portal.asgi:application", bind, *ws, "--proxy-headers")
    if name == "sep2":
        bind = _bind(env, "RESERVOIR_SEP2_BIND", "127.0.0.1:8001")
        # No --proxy-headers: REMOTE_ADDR must be the real hop (nginx), never a header.
        return _uvicorn(env, "portal.asgi_sep2:application", bind, "--no-proxy-headers")
    if name == "worker":
        concurrency = str(_count(env, "RESERVOIR_CELERY_CONCURRENCY"))
        return [
            python, "-m", "celery", "-A", "portal", "worker", "-l", "info",
            "--concurrency", concurrency, "-n", "worker@%h",
        ]  # fmt: skip
    if name == "beat":
        return [python, "-m", "celery", "-A", "portal", "beat", "-l", "info"]
    raise ValueError(f"unknown process {name!r}: one of {', '.join(NAMES)}")


def main(args: list[str]) -> None:
    if len(args) != 1 or args[0] not in NAMES:
        raise SystemExit(f"usage: python -m portal.processes {{{'|'.join(NAMES)}}}")
    command = argv(args[0])
    os.execv(command[0], command)  # noqa: S606  (our own interpreter, fixed arguments)


if __name__ == "__main__":
    main(sys.argv[1:])
