"""Write the demo 2030.5 PKI to var/demo/sep2 and register its clients for 'cascadia'."""

from django.core.management.base import BaseCommand

from portal.devstack import DEMO_UTILITY, demo_pki_write


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--utility", default=DEMO_UTILITY)
        parser.add_argument("--force", action="store_true", help="issue new certificates")

    def handle(self, *args, utility, force, **options):
        info = demo_pki_write(utility_slug=utility, force=force)
        self.stdout.write(f"2030.5 demo PKI in {info['ca_bundle'].rsplit('/', 1)[0]}\n")
        self.stdout.write(f"Try: {info['try']}\n")
