"""Signals vendors sends; the 2030.5 server and the portal receive them.

``certificates_revoked`` is sent (sender: ``IssuedCertificate``) inside the transaction
that marks issued certificates revoked, with ``certificates``: a list of
``(utility_id, lfdi)``. Receivers must refuse those certificates from the next request
on; sending inside the transaction means a failing receiver rolls the revocation back
instead of leaving a certificate marked revoked that the endpoint still accepts.

``conformance_run_progressed`` is sent (sender: ``ConformanceRun``, ``run``: the run) after
the commit of each advance of a run, so pages can show its progress live.
"""

from django.dispatch import Signal

certificates_revoked = Signal()
conformance_run_progressed = Signal()
