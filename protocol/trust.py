"""The files nginx needs to front the 2030.5 listener, written from the database.

All live in one folder, `SEP2_TLS_DIR` (var/tls by default; /etc/reservoir/tls in
deploy/), and both deploy/nginx and `make run` include them from there:

- `sep2-proxy-secret.conf`: a `proxy_set_header` line carrying the per-install
  SEP2_PROXY_SECRET, so nginx vouches for every request it forwards (protocol.transport).
- `program-ca-bundle.pem` (`ssl_client_certificate`): every utility's CA chain (vendors'
  CertificateAuthority rows), plus the demo CA when `SEP2_DEMO_PKI_DIR` holds one.
- `program-crl.pem` (`ssl_crl`): one CRL per CA in that bundle, concatenated; nginx checks
  every certificate of a chain, so each CA needs one, and a revoked client certificate is
  refused at the handshake. The app's own revocation check stays as defence in depth.

`manage.py sep2_trust_write` (make run, runstack, deploy's ExecStartPre) and the task
`protocol.sep2_trust_write` (queued by vendors when a CA is created or a certificate is
revoked, and daily by beat so the CRLs never lapse) write them and reload nginx, unless
nginx's files already say the same (trust_write).
"""

import datetime as dt
import logging
import os
import shutil
import subprocess
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.conf import settings

from vendors.certificates import (
    CRL_VALID_DAYS,
    Signer,
    crl_build,
    program_ca_bundle_pem,
    program_crls_pem,
)

logger = logging.getLogger(__name__)

PROXY_SECRET_CONF = "sep2-proxy-secret.conf"  # noqa: S105  (a file name)
CA_BUNDLE = "program-ca-bundle.pem"
CRL = "program-crl.pem"
# What the demo PKI (protocol.pki.build_test_pki) writes for its own CAs.
DEMO_CA_FILES = (("ca-root.pem", "ca-root.key"), ("ca-intermediate.pem", "ca-intermediate.key"))


def tls_dir() -> Path:
    folder = Path(getattr(settings, "SEP2_TLS_DIR", "") or Path(settings.VAR_DIR) / "tls")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _write_private(path: Path, text: str) -> None:
    """Replace `path` atomically with `text`, readable by its owner only."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    tmp.replace(path)


def proxy_secret_conf_write(folder: Path | None = None) -> Path:
    """nginx's include that sets (and so overwrites any client's) X-Reservoir-Proxy-Secret."""
    path = (folder or tls_dir()) / PROXY_SECRET_CONF
    secret = settings.SEP2_PROXY_SECRET
    if not secret.isalnum():
        raise ValueError("SEP2_PROXY_SECRET must be letters and digits only")
    _write_private(path, f'proxy_set_header X-Reservoir-Proxy-Secret "{secret}";\n')
    return path


def _write_public(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.chmod(0o644)
    tmp.replace(path)


def _demo_trust(now: dt.datetime) -> tuple[str, str]:
    """The demo CA's certificates and an empty CRL for each (demo clients are revoked in
    the app), when the demo PKI is present."""
    folder = getattr(settings, "SEP2_DEMO_PKI_DIR", None)
    if folder is None:
        folder = Path(settings.VAR_DIR) / "demo" / "sep2"
    if not folder:
        return "", ""
    certs, crls = [], []
    for cert_name, key_name in DEMO_CA_FILES:
        cert_path, key_path = Path(folder) / cert_name, Path(folder) / key_name
        if not (cert_path.exists() and key_path.exists()):
            continue
        pem = cert_path.read_bytes()
        key = serialization.load_pem_private_key(key_path.read_bytes(), None)
        signer = Signer(x509.load_pem_x509_certificate(pem), key)  # type: ignore[arg-type]
        certs.append(pem.decode())
        crl = crl_build(issuer=signer, serials=[], now=now)
        crls.append(crl.public_bytes(serialization.Encoding.PEM).decode())
    return "".join(certs), "".join(crls)


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
    )


def nginx_run_dir() -> Path:
    """Where `make run` keeps its nginx (config, pid, temp files)."""
    return Path(
        getattr(settings, "SEP2_NGINX_DIR", "") or Path(settings.VAR_DIR) / "run" / "sep2-nginx"
    )


def nginx_reload() -> bool:
    """`nginx -s reload` (graceful) with the -p/-c runstack starts it with, only when that
    nginx is running (its pid file exists). Deploy reloads the system nginx from a systemd
    path unit instead (deploy/systemd/reservoir-sep2-trust.path)."""
    run = nginx_run_dir()
    nginx = nginx_binary()
    if nginx is None or not (run / "nginx.pid").exists():
        return False
    argv = [nginx, "-p", str(run), "-c", str(run / "nginx.conf"), "-s", "reload"]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        logger.warning("nginx reload failed: %s", result.stderr.strip())
        return False
    return True


def _crls(text: str) -> list[x509.CertificateRevocationList] | None:
    """The CRLs of a concatenated PEM file (None: unreadable)."""
    marker = "-----BEGIN X509 CRL-----"
    try:
        return [x509.load_pem_x509_crl((marker + p).encode()) for p in text.split(marker)[1:]]
    except ValueError:
        return None


def _revoked_by_issuer(crls: list[x509.CertificateRevocationList]) -> dict[bytes, set[int]]:
    return {crl.issuer.public_bytes(): {r.serial_number for r in crl} for crl in crls}


def _nginx_knows(folder: Path, bundle: str, crls: str, now: dt.datetime) -> bool:
    """The files nginx has already say what `bundle` and `crls` say: the same CAs, the same
    revoked serials for each, and CRLs with more than half their life left. (New CRLs
    always differ byte for byte: a new lastUpdate and a new signature.)"""
    try:
        old_bundle = (folder / CA_BUNDLE).read_text()
        old = _crls((folder / CRL).read_text())
    except OSError:
        return False
    new = _crls(crls) or []
    half_life = dt.timedelta(days=CRL_VALID_DAYS / 2)
    return (
        old is not None
        and old_bundle == bundle
        and _revoked_by_issuer(old) == _revoked_by_issuer(new)
        and all(c.next_update_utc and c.next_update_utc - now > half_life for c in old)
    )


def trust_write(
    *, folder: Path | None = None, reload: bool = True, now: dt.datetime | None = None
) -> dict:
    """Write the program CA bundle and CRLs (and the proxy-secret include) for nginx, then
    reload it gracefully. The files are replaced atomically.

    When nginx's files already say the same (a burst of revocations' later tasks, a task
    run twice, beat's daily run while the CRLs have time left), nothing is rewritten or
    reloaded: each reload closes every device's idle keep-alive connection, and deploy's
    systemd path unit reloads on any rewrite."""
    folder = folder or tls_dir()
    folder.mkdir(parents=True, exist_ok=True)
    now = now or dt.datetime.now(dt.UTC)
    demo_bundle, demo_crls = _demo_trust(now)
    bundle = program_ca_bundle_pem() + demo_bundle
    crls = program_crls_pem(now=now) + demo_crls
    changed = not _nginx_knows(folder, bundle, crls, now)
    if changed:
        _write_public(folder / CA_BUNDLE, bundle)
        _write_public(folder / CRL, crls)
    proxy_secret_conf_write(folder)
    reloaded = nginx_reload() if reload and changed else False
    return {
        "ca_bundle": folder / CA_BUNDLE,
        "crl": folder / CRL,
        "authorities": bundle.count("BEGIN CERTIFICATE"),
        "crls": crls.count("BEGIN X509 CRL"),
        "changed": changed,
        "reloaded": reloaded,
    }
