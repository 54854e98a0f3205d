"""protocol.trust: nginx's program CA bundle and CRLs follow the portal's CAs and revocations."""

import io

from cryptography import x509
from django.core.management import call_command
from django.test import override_settings

from protocol import pki, trust
from tests import factories
from vendors.certificates import certificate_revoke
from vendors.services import TRUST_WRITE_TASK


def _pems(path, marker):
    text = path.read_text()
    return [
        f"-----BEGIN {marker}-----" + part for part in text.split(f"-----BEGIN {marker}-----")[1:]
    ]


def test_bundle_and_crls_cover_every_utility_ca_and_the_demo_ca(db, tmp_path):
    demo = tmp_path / "demo"
    pki.build_test_pki(demo)
    first = factories.issued_certificate(factories.utility())
    second = factories.issued_certificate(factories.utility())
    certificate_revoke(certificate=second)
    with override_settings(SEP2_DEMO_PKI_DIR=str(demo), SEP2_NGINX_DIR=tmp_path / "no-nginx"):
        call_command("sep2_trust_write", "--dir", str(tmp_path / "tls"), stdout=io.StringIO())
    bundle = [
        x509.load_pem_x509_certificate(p.encode())
        for p in _pems(tmp_path / "tls" / trust.CA_BUNDLE, "CERTIFICATE")
    ]
    crls = [
        x509.load_pem_x509_crl(p.encode()) for p in _pems(tmp_path / "tls" / trust.CRL, "X509 CRL")
    ]
    # Two utilities' root and issuing CA, and the demo root and MICA: one CRL each.
    assert len(bundle) == 6
    assert sorted(c.subject.rfc4514_string() for c in bundle) == sorted(
        c.issuer.rfc4514_string() for c in crls
    )
    revoked = {r.serial_number for crl in crls for r in crl}
    assert revoked == {int(second.serial, 16)}
    assert int(first.serial, 16) not in revoked
    for crl in crls:  # each signed by the CA it names
        (issuer,) = [c for c in bundle if c.subject == crl.issuer]
        assert crl.is_signature_valid(issuer.public_key())


def test_new_ca_and_revocation_queue_the_trust_write_by_name(
    db, monkeypatch, django_capture_on_commit_callbacks
):
    from vendors import services

    sent = []
    monkeypatch.setattr(services.current_app, "send_task", lambda name, **kw: sent.append(name))
    utility = factories.utility()
    with django_capture_on_commit_callbacks(execute=True):
        issued = factories.issued_certificate(utility)
    assert sent == [TRUST_WRITE_TASK]  # the utility's CA was created
    with django_capture_on_commit_callbacks(execute=True):
        factories.issued_certificate(utility)
    assert sent == [TRUST_WRITE_TASK]  # same CA: nothing to rewrite
    with django_capture_on_commit_callbacks(execute=True):
        certificate_revoke(certificate=issued)
    assert sent == [TRUST_WRITE_TASK, TRUST_WRITE_TASK]


def test_the_task_is_registered_under_the_name_vendors_queues():
    from celery import current_app

    import protocol.tasks  # noqa: F401  (ProtocolConfig.ready imports it in every process)

    assert TRUST_WRITE_TASK in current_app.tasks


def test_utility_ca_create_once_and_refuses_an_unknown_utility(db, tmp_path):
    import pytest
    from django.core.management.base import CommandError

    from vendors.models import CertificateAuthority

    utility = factories.utility()
    out = io.StringIO()
    call_command("utility_ca_create", utility.slug, "--chain", str(tmp_path / "c.pem"), stdout=out)
    call_command("utility_ca_create", utility.slug, stdout=out)
    assert CertificateAuthority.objects.for_utility(utility).count() == 2
    assert (tmp_path / "c.pem").read_text().count("BEGIN CERTIFICATE") == 2
    with pytest.raises(CommandError, match="No utility"):
        call_command("utility_ca_create", "no-such-utility", stdout=out)
    assert CertificateAuthority.objects.count() == 2


def test_nginx_is_reloaded_only_when_what_it_trusts_changed(db, tmp_path, monkeypatch, settings):
    """Each reload closes every device's idle keep-alive connection (deploy/nginx/README.md):
    a trust write that finds nothing new (a burst of revocations' later tasks, a repeated
    task, beat's daily run while the CRLs have time left) leaves the files and nginx alone.
    A new CA, a new revocation, or CRLs past half their life do reload."""
    import datetime as dt

    from vendors.certificates import CRL_VALID_DAYS

    reloads = []
    monkeypatch.setattr(trust, "nginx_reload", lambda: reloads.append(1) or True)
    settings.SEP2_DEMO_PKI_DIR = ""
    folder = tmp_path / "tls"
    utility = factories.utility()
    issued = factories.issued_certificate(utility)

    assert trust.trust_write(folder=folder)["reloaded"] and len(reloads) == 1  # first write
    crl_before = (folder / trust.CRL).read_bytes()
    again = trust.trust_write(folder=folder)
    assert not again["reloaded"] and len(reloads) == 1  # nothing new: nothing reloaded
    assert (folder / trust.CRL).read_bytes() == crl_before  # nor rewritten (systemd's path unit)

    certificate_revoke(certificate=issued)
    assert trust.trust_write(folder=folder)["reloaded"] and len(reloads) == 2  # a revocation
    assert not trust.trust_write(folder=folder)["reloaded"] and len(reloads) == 2

    factories.issued_certificate(factories.utility())  # another utility: a new CA
    assert trust.trust_write(folder=folder)["reloaded"] and len(reloads) == 3

    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=CRL_VALID_DAYS / 2 + 1)
    assert trust.trust_write(folder=folder, now=later)["reloaded"] and len(reloads) == 4
    assert not trust.trust_write(folder=folder, now=later)["reloaded"] and len(reloads) == 4
