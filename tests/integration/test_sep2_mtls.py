"""Mutual TLS through the production nginx policy, with real handshakes.

nginx (deploy/nginx/snippets/*.conf) terminates TLS in front of uvicorn running the
Django stack; the app echoes the LFDI it resolved from the forwarded certificate.
"""

import contextlib
import http.client
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from django.conf import settings
from django.test import RequestFactory

from protocol import pki, trust
from protocol.identity import lfdi_from_cert_der
from tests.integration.sep2_echo import echo_client_lfdi
from vendors.certificates import crl_build

pytestmark = pytest.mark.integration

ROOT = Path(settings.BASE_DIR)
SNIPPETS = ROOT / "deploy" / "nginx" / "snippets"
NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
)


def require_nginx():
    if NGINX:
        return NGINX
    if os.environ.get("RESERVOIR_REQUIRE_NGINX"):
        pytest.fail("nginx is required (RESERVOIR_REQUIRE_NGINX is set) but not installed")
    pytest.skip("nginx is not installed")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, log: Path, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited early:\n{log.read_text(errors='replace')}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"port {port} never opened:\n{log.read_text(errors='replace')}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def nginx_config(tmp: Path, built: pki.TestPki, port: int, upstream: int) -> str:
    secret_conf = trust.proxy_secret_conf_write(tmp)
    user = "user root;" if os.geteuid() == 0 else ""
    temp_paths = "\n".join(
        f"    {kind}_temp_path {tmp / kind};" for kind in ("client_body", "proxy", "fastcgi")
    )
    return f"""
{user}
worker_processes 1;
daemon off;
pid {tmp / "nginx.pid"};
error_log {tmp / "error.log"} info;
events {{ worker_connections 64; }}
http {{
    access_log {tmp / "access.log"};
{temp_paths}
    uwsgi_temp_path {tmp / "uwsgi"};
    scgi_temp_path {tmp / "scgi"};
    upstream echo {{
        server 127.0.0.1:{upstream};
        keepalive 4;
    }}
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {built.server_cert};
        ssl_certificate_key {built.server_key};
        ssl_client_certificate {built.ca_bundle};
        include {SNIPPETS / "reservoir-sep2-tls.conf"};
        location / {{
            include {SNIPPETS / "reservoir-sep2-proxy.conf"};
            include {secret_conf};
            proxy_pass http://echo;
        }}
    }}
}}
"""


@contextlib.contextmanager
def mutual_tls_proxy(tmp: Path, built: pki.TestPki, upstream_port: int):
    """nginx with the production TLS policy in front of a local upstream; yields its port."""
    nginx = require_nginx()
    tls_port = free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(nginx_config(tmp, built, tls_port, upstream_port))
    log = tmp / "nginx.out"
    with log.open("wb") as out:
        proxy = subprocess.Popen(
            [nginx, "-p", str(tmp), "-c", str(conf)], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_for_port(tls_port, proxy, log)
        yield tls_port
    finally:
        stop(proxy)


@pytest.fixture(scope="module")
def sep2_server(tmp_path_factory):
    nginx = require_nginx()
    tmp = tmp_path_factory.mktemp("sep2-mtls")
    built = pki.build_test_pki(tmp / "pki")
    app_port, tls_port = free_port(), free_port()

    app_log = tmp / "uvicorn.log"
    env = {
        **os.environ,
        "SECRET_KEY": "mtls-test-only",
        "SEP2_PROXY_SECRET": settings.SEP2_PROXY_SECRET,
        "RESERVOIR_VAR_DIR": str(tmp),
        "PYTHONUNBUFFERED": "1",
    }
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        "tests.integration.sep2_echo_asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(app_port),
        "--no-proxy-headers",
        "--lifespan",
        "off",
    ]
    with app_log.open("wb") as out:
        app = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(app_port, app, app_log)
        conf = tmp / "nginx.conf"
        conf.write_text(nginx_config(tmp, built, tls_port, app_port))
        nginx_log = tmp / "nginx.out"
        with nginx_log.open("wb") as out:
            proxy = subprocess.Popen(
                [nginx, "-p", str(tmp), "-c", str(conf)], stdout=out, stderr=subprocess.STDOUT
            )
        try:
            wait_for_port(tls_port, proxy, nginx_log)
            yield {"port": tls_port, "pki": built, "tmp": tmp}
        finally:
            stop(proxy)
    finally:
        stop(app)


def client_context(
    built: pki.TestPki, cert: Path | None = None, key: Path | None = None
) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=str(built.ca_bundle))
    if cert:
        context.load_cert_chain(str(cert), str(key))
    return context


def get(port: int, context: ssl.SSLContext, headers=None):
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
    try:
        conn.request("GET", "/sep2-echo", headers=headers or {})
        version, cipher = conn.sock.version(), conn.sock.cipher()[0]
        response = conn.getresponse()
        return response.status, response.read(), version, cipher
    finally:
        conn.close()


def test_device_certificate_is_resolved_to_its_lfdi(sep2_server):
    built = sep2_server["pki"]
    context = client_context(built, built.device_cert, built.device_key)
    status, body, version, _ = get(sep2_server["port"], context)
    assert status == 200
    assert body == f"LFDI={lfdi_from_cert_der(built.device.cert_der)}".encode()
    assert version == "TLSv1.3"


def test_aggregator_certificate_is_resolved_to_its_lfdi(sep2_server):
    built = sep2_server["pki"]
    context = client_context(built, built.aggregator_cert, built.aggregator_key)
    status, body, _, _ = get(sep2_server["port"], context)
    assert status == 200
    assert body == f"LFDI={lfdi_from_cert_der(built.aggregator.cert_der)}".encode()


@pytest.mark.parametrize("cipher", ["ECDHE-ECDSA-AES128-CCM8", "ECDHE-ECDSA-AES128-GCM-SHA256"])
def test_tls12_suites_the_standard_needs(sep2_server, cipher):
    built = sep2_server["pki"]
    context = client_context(built, built.device_cert, built.device_key)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(cipher)
    status, body, version, negotiated = get(sep2_server["port"], context)
    assert (status, version, negotiated) == (200, "TLSv1.2", cipher)
    assert body == f"LFDI={lfdi_from_cert_der(built.device.cert_der)}".encode()


def test_tls12_without_the_allowed_suites_is_refused(sep2_server):
    built = sep2_server["pki"]
    context = client_context(built, built.device_cert, built.device_key)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers("ECDHE-ECDSA-AES256-GCM-SHA384")
    with pytest.raises(ssl.SSLError):
        get(sep2_server["port"], context)


def app_requests(server) -> int:
    return (server["tmp"] / "uvicorn.log").read_text().count("GET /sep2-echo")


def test_no_client_certificate_is_refused_by_nginx(sep2_server):
    before = app_requests(sep2_server)
    status, body, _, _ = get(sep2_server["port"], client_context(sep2_server["pki"]))
    assert status == 400
    assert app_requests(sep2_server) == before
    assert b"No required SSL certificate was sent" in body
    assert b"LFDI=" not in body


def test_certificate_from_an_unknown_ca_is_refused_by_nginx(sep2_server, tmp_path):
    built = sep2_server["pki"]
    rogue_root = pki.create_root_ca("Rogue SERCA", organization="Mallory")
    rogue = pki.create_client_certificate(
        pki.create_intermediate_ca(rogue_root, "Rogue MICA"), "Rogue device"
    )
    cert, key = pki.write_pem(tmp_path, "rogue", rogue)
    # nginx finishes the handshake, then answers 400 without reaching the app.
    before = app_requests(sep2_server)
    status, body, _, _ = get(sep2_server["port"], client_context(built, cert, key))
    assert status == 400
    assert app_requests(sep2_server) == before
    assert b"SSL certificate error" in body
    assert b"LFDI=" not in body


def test_forged_header_through_nginx_is_overwritten(sep2_server):
    built = sep2_server["pki"]
    forged = quote(built.aggregator.cert_pem.decode(), safe="")
    context = client_context(built, built.device_cert, built.device_key)
    status, body, _, _ = get(sep2_server["port"], context, {"X-SSL-Client-Cert": forged})
    assert status == 200
    assert body == f"LFDI={lfdi_from_cert_der(built.device.cert_der)}".encode()


def test_forged_header_from_untrusted_address_is_ignored():
    root = pki.create_root_ca()
    device = pki.create_client_certificate(root, "Device")
    forged = quote(device.cert_pem.decode(), safe="")
    factory = RequestFactory()

    untrusted = factory.get("/sep2-echo", REMOTE_ADDR="198.51.100.7", HTTP_X_SSL_CLIENT_CERT=forged)
    response = echo_client_lfdi(untrusted)
    assert response.status_code == 403

    no_secret = factory.get("/sep2-echo", REMOTE_ADDR="127.0.0.1", HTTP_X_SSL_CLIENT_CERT=forged)
    assert echo_client_lfdi(no_secret).status_code == 403

    trusted = factory.get(
        "/sep2-echo",
        REMOTE_ADDR="127.0.0.1",
        HTTP_X_SSL_CLIENT_CERT=forged,
        HTTP_X_RESERVOIR_PROXY_SECRET=settings.SEP2_PROXY_SECRET,
    )
    response = echo_client_lfdi(trusted)
    assert response.content == f"LFDI={lfdi_from_cert_der(device.cert_der)}".encode()


def test_production_config_is_valid(tmp_path):
    """The committed site config passes `nginx -t` once its paths point at real files."""
    nginx = require_nginx()
    built = pki.build_test_pki(tmp_path / "pki")
    site = (ROOT / "deploy" / "nginx" / "reservoir-sep2.conf").read_text()
    crl = tmp_path / "program-crl.pem"  # one CRL per CA, as protocol.trust writes it
    now = datetime.now(UTC)
    crl.write_bytes(
        b"".join(
            crl_build(issuer=ca, serials=[], now=now).public_bytes(Encoding.PEM)
            for ca in (built.root, built.intermediate)
        )
    )
    for name, path in {
        "/etc/reservoir/tls/sep2-server.pem": built.server_cert,
        "/etc/reservoir/tls/sep2-server.key": built.server_key,
        "/etc/reservoir/tls/program-ca-bundle.pem": built.ca_bundle,
        "/etc/reservoir/tls/program-crl.pem": crl,
        "/etc/nginx/snippets/": f"{SNIPPETS}/",
        "/etc/reservoir/tls/sep2-proxy-secret.conf": trust.proxy_secret_conf_write(tmp_path),
        "/var/log/nginx/reservoir-sep2.access.log": tmp_path / "access.log",
        "listen 443 ssl;": f"listen 127.0.0.1:{free_port()} ssl;",
        "listen [::]:443 ssl;": "",
    }.items():
        assert name in site
        site = site.replace(name, str(path))
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path / 'nginx.pid'};\nerror_log {tmp_path / 'error.log'};\n"
        f"events {{}}\nhttp {{ include {tmp_path / 'site.conf'}; }}\n"
    )
    result = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
