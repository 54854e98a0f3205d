"""The nginx configuration in front of the 2030.5 listener, written in one place.

`make run` (portal.devstack) and the fault drills (tests/drills) both write their nginx.conf
with `sep2_conf`, so the drills exercise the committed snippets under deploy/nginx/snippets
(the TLS policy, and the proxy policy with its proxy_next_upstream retry of idempotent
requests) and the same upstream block deploy/nginx/reservoir-sep2.conf describes.
No Django here: the drill driver runs outside the stack's settings.
"""

from pathlib import Path

SNIPPETS = Path(__file__).resolve().parents[1] / "deploy" / "nginx" / "snippets"


def sep2_upstream(name: str, port: int, *, workers: int) -> str:
    """The 2030.5 listener's upstream block: its one address listed once per uvicorn worker
    (at least twice). uvicorn's workers share the listening socket, so when the worker
    serving a request dies, nginx's retry (proxy_next_upstream in reservoir-sep2-proxy.conf)
    opens a new connection to the "next" server, the same address, and the kernel hands it
    to a live worker. max_fails=0: one dead worker must not mark the listener down."""
    servers = "\n".join(
        f"        server 127.0.0.1:{port} max_fails=0;" for _ in range(max(2, workers))
    )
    return f"    upstream {name} {{\n{servers}\n        keepalive 16;\n    }}"


def sep2_conf(
    *,
    run: Path,
    upstream_port: int,
    workers: int,
    tls_port: int,
    server_cert: Path,
    server_key: Path,
    ca_bundle: Path,
    secret_conf: Path,
    crl: Path | None = None,
    root: bool = False,
) -> str:
    """A whole nginx.conf: mutual TLS on 127.0.0.1:`tls_port` in front of the listener."""
    temp = "\n".join(
        f"    {k}_temp_path {run / k};"
        for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    crl_line = f"        ssl_crl {crl};\n" if crl else ""
    return f"""{"user root;" if root else ""}
worker_processes 1;
daemon off;
pid {run / "nginx.pid"};
error_log {run / "error.log"} warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
{temp}
    # The 2030.5 listener (portal.processes "sep2"), never the portal listener.
{sep2_upstream("reservoir", upstream_port, workers=workers)}
    server {{
        listen 127.0.0.1:{tls_port} ssl;
        ssl_certificate {server_cert};
        ssl_certificate_key {server_key};
        ssl_client_certificate {ca_bundle};
{crl_line}        include {SNIPPETS / "reservoir-sep2-tls.conf"};
        location / {{
            include {SNIPPETS / "reservoir-sep2-proxy.conf"};
            include {secret_conf};
            proxy_pass http://reservoir;
        }}
    }}
}}
"""
