"""Two first certificate issuances at once create the utility's CA hierarchy once.

`make conformance-ci` issues six clients side by side on a fresh install: each request
found no CA, each made a root, and all but one answered 500 (unique `one_ca_per_role`).
The loser of that race must use the hierarchy the winner stored.
"""

import dataclasses

import pytest

from tests import factories
from vendors import certificates, registry
from vendors.models import CertificateAuthority


@pytest.mark.django_db
def test_a_hierarchy_stored_meanwhile_is_used_not_a_500(monkeypatch):
    utility = factories.utility("race")
    real = registry.engine()
    winner: list[CertificateAuthority] = []
    raced: list[bool] = []

    def root_create_while_another_request_wins(*args, **kwargs):
        # The other request stores its hierarchy after this one looked and found none.
        if not raced:
            raced.append(True)
            winner.append(certificates.authority_ensure(utility=utility))
        return real.ca_root_create(*args, **kwargs)

    racing = dataclasses.replace(real, ca_root_create=root_create_while_another_request_wins)
    monkeypatch.setattr(registry, "_engine", racing)

    issuing = certificates.authority_ensure(utility=utility)

    assert issuing == winner[0]
    assert CertificateAuthority.objects.filter(utility=utility).count() == 2
