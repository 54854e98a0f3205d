import json

import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from enrollment.models import Customer
from portal.demo import DEMO_PASSWORD, credentials_path
from tenancy.choices import Role
from tenancy.models import Membership, Utility
from vendors.models import VendorMembership

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_var(tmp_path, settings):
    settings.VAR_DIR = tmp_path
    return tmp_path


def test_seed_creates_two_utilities_with_every_role_and_writes_credentials(demo_var, capsys):
    call_command("seed_demo")
    assert Utility.objects.count() == 2
    for utility in Utility.objects.all():
        roles = set(Membership.objects.for_utility(utility).values_list("role", flat=True))
        assert roles == set(Role.values)
        assert utility.territory.exists() and utility.brands.exists()
        assert Customer.objects.for_utility(utility).count() == 1
    assert VendorMembership.objects.count() == 1

    data = json.loads(credentials_path().read_text())
    assert credentials_path().parent == demo_var / "demo"
    token = data["utilities"]["cascadia"]["api_token"]
    assert Token.objects.get(key=token).user.username == "pm@cascadia.example"
    assert data["urls"]["login"].endswith("/accounts/login/")
    printed = capsys.readouterr().out
    assert token in printed and "pm@cascadia.example" in printed and DEMO_PASSWORD in printed


def test_seed_is_idempotent_and_keeps_other_keys(demo_var):
    call_command("seed_demo", "--quiet")
    path = credentials_path()
    data = json.loads(path.read_text())
    data["sep2"] = {"dcap": "https://127.0.0.1:8443/dcap"}
    path.write_text(json.dumps(data))
    call_command("seed_demo", "--quiet")
    again = json.loads(path.read_text())
    assert again["sep2"] == {"dcap": "https://127.0.0.1:8443/dcap"}
    assert again["utilities"] == data["utilities"]
    assert Utility.objects.count() == 2
    assert Membership.objects.count() == 2 * 4  # three staff roles + the platform operator


def test_demo_program_manager_can_log_in(client, demo_var):
    call_command("seed_demo", "--quiet")
    # Through the login form, as a person does (axes counts attempts per request).
    login = client.post(
        "/accounts/login/", {"username": "pm@cascadia.example", "password": DEMO_PASSWORD}
    )
    assert login.status_code == 302
    page = client.get("/")
    assert page.status_code == 200
    assert b"Cascadia Power" in page.content


def test_every_demo_utility_has_its_ca_before_nginx_first_reads_the_bundle(demo_var, settings):
    """`make run` and bin/conformance write nginx's trust files right after seed_demo: the
    demo utilities' CA hierarchies must already be in them, or the first certificate issued
    (which would create its utility's CA) is refused at the handshake until the worker's
    trust write reloads nginx. And the trust write the seed queues, which the worker runs
    as it starts, finds nothing new: no reload under the first clients."""
    from cryptography import x509

    from protocol.trust import trust_write

    settings.SEP2_DEMO_PKI_DIR = ""
    call_command("seed_demo", "--quiet")
    written = trust_write(folder=demo_var / "tls", reload=False)
    pem = written["ca_bundle"].read_bytes()
    bundle = x509.load_pem_x509_certificates(pem) if pem.strip() else []
    subjects = {c.subject.rfc4514_string() for c in bundle}
    for utility in Utility.objects.all():
        assert any(f"{utility.name} MICA" in s for s in subjects), (utility.name, subjects)
        assert any(f"{utility.name} SERCA" in s for s in subjects), (utility.name, subjects)
    assert written["crls"] == written["authorities"] == 2 * Utility.objects.count()
    assert not trust_write(folder=demo_var / "tls")["changed"]  # the worker's queued write
