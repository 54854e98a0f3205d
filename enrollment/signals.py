"""The seam through which the 2030.5 server learns that vendor certificates are withdrawn.

``certificates_revoked`` is sent (sender: ``IssuedCertificate``) inside the transaction
that marks issued certificates revoked, with ``certificates``: a list of
``(utility_id, lfdi)``. Receivers must refuse those certificates from the next request
on; sending inside the transaction means a failing receiver rolls the revocation back
instead of leaving a certificate marked revoked that the endpoint still accepts.
"""

from django.dispatch import Signal

certificates_revoked = Signal()
