"""deploy/ runs exactly the processes `make run` runs, so the two cannot drift apart.

Each systemd unit's ExecStart is `python -m portal.processes <name>`, which execs
portal.processes.argv(name); runstack starts the same argv. The environment template names
every knob those command lines and the 2030.5 trust chain read.
"""

import configparser
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

from portal import processes
from portal.management.commands.runstack import stack_parts

DEPLOY = Path(settings.BASE_DIR) / "deploy"
PYTHON = "/opt/reservoir/.venv/bin/python"


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # keep systemd's key case
    parser.read(DEPLOY / "systemd" / f"reservoir-{name}.service")
    return parser


def test_one_unit_per_process_and_its_exec_start_is_portal_processes():
    units = sorted(p.name for p in (DEPLOY / "systemd").glob("reservoir-*.service"))
    names = [n.removeprefix("reservoir-").removesuffix(".service") for n in units]
    assert set(processes.NAMES) <= set(names)
    for name in processes.NAMES:
        service = unit(name)["Service"]
        assert service["ExecStart"] == f"{PYTHON} -m portal.processes {name}", name
        assert service["EnvironmentFile"] == "/etc/reservoir/reservoir.env"
        assert service["WorkingDirectory"] == "/opt/reservoir"


def test_the_exec_start_runs_what_make_run_runs(monkeypatch):
    """`python -m portal.processes NAME` execs processes.argv(NAME): runstack's argv, given
    the same environment (runstack sets one uvicorn worker unless RESERVOIR_WORKERS says)."""
    monkeypatch.delenv("RESERVOIR_WORKERS", raising=False)
    runstack = {
        part.name: part.argv
        for part in stack_parts(host="127.0.0.1", port=8000, sep2_port=8001)
        if part.name in processes.NAMES
    }
    assert set(runstack) == set(processes.NAMES)
    unit_env = {
        **os.environ,
        "RESERVOIR_WORKERS": "1",
        "RESERVOIR_WEB_BIND": "127.0.0.1:8000",
        "RESERVOIR_SEP2_BIND": "127.0.0.1:8001",
    }
    # What the unit's ExecStart execs, read back in a fresh interpreter as systemd runs it.
    script = "import sys, portal.processes as p; print(chr(0).join(p.argv(sys.argv[1])))"
    for name in processes.NAMES:
        out = subprocess.run(
            [sys.executable, "-c", script, name],
            env=unit_env,
            capture_output=True,
            text=True,
            check=True,
            cwd=settings.BASE_DIR,
        ).stdout.strip()
        assert out.split("\0") == runstack[name], name
    # The 2030.5 listener never believes X-Forwarded-*; the portal listener does.
    assert "--no-proxy-headers" in runstack["sep2"]
    assert "--proxy-headers" in runstack["web"]


def test_main_execs_processes_argv(monkeypatch):
    seen = []
    monkeypatch.setattr(os, "execv", lambda path, argv: seen.append(argv))
    for name in processes.NAMES:
        processes.main([name])
    assert seen == [processes.argv(name) for name in processes.NAMES]


def test_worker_count_defaults_to_the_cores():
    cores = len(os.sched_getaffinity(0))
    argv = processes.argv("web", {"RESERVOIR_WORKERS": ""})
    if cores > 1:
        assert argv[argv.index("--workers") + 1] == str(cores)
    else:
        assert "--workers" not in argv


def test_environment_template_names_every_knob():
    text = (DEPLOY / "env" / "reservoir.env.example").read_text()
    keys = {line.split("=", 1)[0] for line in text.splitlines() if "=" in line and line[0] != "#"}
    assert {
        "DATABASE_URL",
        "REDIS_URL",
        "SECRET_KEY",
        "CA_KEY_ENCRYPTION_KEY",
        "SEP2_PROXY_SECRET",
        "ALLOWED_HOSTS",
        "SECURE_SSL_REDIRECT",
        "SECURE_PROXY_SSL_HEADER",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_HSTS_SECONDS",
        "RESERVOIR_WORKERS",
        "RESERVOIR_CELERY_CONCURRENCY",
        "RESERVOIR_WEB_BIND",
        "RESERVOIR_SEP2_BIND",
        "SEP2_TLS_DIR",
        "SEP2_DEMO_PKI_DIR",
        "SEP2_IANA_PEN",
    } <= keys


def test_nginx_site_reads_what_sep2_trust_write_writes():
    from protocol import trust

    site = (DEPLOY / "nginx" / "reservoir-sep2.conf").read_text()
    tls = "/etc/reservoir/tls"
    assert f"ssl_client_certificate {tls}/{trust.CA_BUNDLE};" in site
    assert f"ssl_crl {tls}/{trust.CRL};" in site
    assert f"include {tls}/{trust.PROXY_SECRET_CONF};" in site
    template = (DEPLOY / "env" / "reservoir.env.example").read_text()
    assert f"SEP2_TLS_DIR={tls}\n" in template
    watched = (DEPLOY / "systemd" / "reservoir-sep2-trust.path").read_text()
    assert f"PathChanged={tls}/{trust.CRL}" in watched
    assert f"PathChanged={tls}/{trust.CA_BUNDLE}" in watched
