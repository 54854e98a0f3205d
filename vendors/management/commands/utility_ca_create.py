"""Create a utility's 2030.5 CA hierarchy (SERCA-like root, MICA-like issuing CA) once.

The worker then rewrites nginx's program CA bundle and CRLs (protocol.sep2_trust_write);
`manage.py sep2_trust_write` does the same at once.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from tenancy.models import Utility
from vendors.certificates import authority_ensure, chain_pem


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("utility", help="the utility's slug")
        parser.add_argument("--chain", help="also write the CA chain (PEM) to this file")

    def handle(self, *args, utility, chain, **options):
        found = Utility.objects.filter(slug=utility).first()
        if found is None:
            raise CommandError(f"No utility with slug {utility!r}.")
        with transaction.atomic():
            issuing = authority_ensure(utility=found)
        if chain:
            with open(chain, "w") as out:
                out.write(chain_pem(utility=found))
        self.stdout.write(f"{found.name}: issuing CA {issuing.common_name!r}\n")
