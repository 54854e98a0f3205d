"""The files nginx needs to front the 2030.5 listener, written from the database.

All live in one folder, `SEP2_TLS_DIR` (var/tls by default; /etc/reservoir/tls in
deploy/), and both deploy/nginx and `make run` include them from there:

- `sep2-proxy-secret.conf`: a `proxy_set_header` line carrying the per-install
  SEP2_PROXY_SECRET, so nginx vouches for every request it forwards (protocol.transport).
"""

import os
from pathlib import Path

from django.conf import settings

PROXY_SECRET_CONF = "sep2-proxy-secret.conf"  # noqa: S105  (a file name)


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
