"""The demo 2030.5 endpoint: PKI, client registration and a valid nginx config."""

import json
import subprocess

import pytest
from django.core.management import call_command

from portal.devstack import nginx_binary, nginx_config_write
from portal.management.commands.runstack import sep2_part
from portal.nginx import SNIPPETS
from protocol.models import Client
from tests import factories

pytestmark = pytest.mark.django_db


def test_demo_pki_registers_clients_idempotently(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    utility = factories.utility("Cascadia", slug="cascadia")
    call_command("sep2_demo_pki")
    call_command("sep2_demo_pki")
    kinds = sorted(Client.objects.filter(utility=utility).values_list("kind", flat=True))
    assert kinds == ["aggregator", "device"]
    creds = json.loads((tmp_path / "demo" / "credentials.json").read_text())
    assert creds["sep2"]["dcap"] == "https://127.0.0.1:8443/dcap"
    assert creds["sep2"]["clients"]["device"]["lfdi"] in set(
        Client.objects.values_list("lfdi", flat=True)
    )


def test_runstack_serves_sep2_through_nginx_when_it_exists(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.SEP2_TLS_DIR = tmp_path / "tls"
    part, message = sep2_part(port=8000)
    assert part is None
    assert "sep2_demo_pki" in message or "nginx is not installed" in message
    factories.utility("Cascadia", slug="cascadia")
    call_command("sep2_demo_pki")
    part, message = sep2_part(port=8000)
    if nginx_binary() is None:
        assert part is None and "nginx is not installed" in message
        return
    assert "https://127.0.0.1:8443/dcap" in message
    result = subprocess.run(
        [*part.argv, "-t"], capture_output=True, text=True, check=False, timeout=30
    )
    assert result.returncode == 0, result.stderr


def test_make_run_nginx_retries_idempotent_requests_on_another_worker(
    settings, tmp_path, monkeypatch
):
    """make run's nginx lists the 2030.5 listener once per uvicorn worker and includes the
    committed proxy snippet, whose proxy_next_upstream resends GET/PUT (never POST) when a
    worker dies mid-request; the fault drill (tests/drills) writes the same config."""
    settings.VAR_DIR = tmp_path
    settings.SEP2_TLS_DIR = tmp_path / "tls"
    monkeypatch.setenv("RESERVOIR_WORKERS", "3")
    factories.utility("Cascadia", slug="cascadia")
    call_command("sep2_demo_pki")
    conf = nginx_config_write(upstream_port=8123, tls_port=8443).read_text()
    assert conf.count("server 127.0.0.1:8123 max_fails=0;") == 3
    proxy = (SNIPPETS / "reservoir-sep2-proxy.conf").read_text()
    assert str(SNIPPETS / "reservoir-sep2-proxy.conf") in conf
    policy = [line for line in proxy.splitlines() if line.startswith("proxy_next_upstream ")]
    assert policy == ["proxy_next_upstream error timeout http_502;"]  # no non_idempotent
    deploy = (SNIPPETS.parent / "reservoir-sep2.conf").read_text()
    assert deploy.count("server 127.0.0.1:8001 max_fails=0;") >= 2


def test_the_demo_fleet_is_the_demo_aggregators_and_no_one_elses(settings, tmp_path):
    """simulate_sep2's fleet registers through the demo aggregator: its devices are
    pre-registered for it (a fleet Device is claimed by no other aggregator, issue 16)."""
    from portal.devstack import demo_fleet_prepare, demo_pki_write
    from protocol.models import EndDevice
    from tests.protocol.sep_world import actor, end_device_body

    settings.VAR_DIR = tmp_path
    utility = factories.utility("Cascadia", slug="cascadia")
    program = factories.program(utility)
    info = demo_pki_write(utility_slug="cascadia")
    aggregator = Client.objects.get(lfdi=info["clients"]["aggregator"]["lfdi"])
    for _ in range(2):  # idempotent
        demo_fleet_prepare(
            utility_slug="cascadia", aggregator_lfdi=aggregator.lfdi, devices=3, seed=4
        )
    end_devices = EndDevice.objects.filter(utility=utility).exclude(lfdi=aggregator.lfdi)
    assert end_devices.count() == 3
    assert {e.registered_by_id for e in end_devices} == {aggregator.pk}
    assert all(e.device is not None for e in end_devices)
    # Another aggregator of the same utility cannot take one over.
    other = actor(utility, program=program, name="other")
    taken = end_devices.first()
    assert other.http.post_sep("/edev", end_device_body(taken.lfdi, taken.sfdi)).status_code == 403
