from django.core.management.base import BaseCommand

from portal.demo import demo_banner, demo_seed


class Command(BaseCommand):
    help = "Create the demo utilities, users and API tokens (idempotent) and print the logins."

    def add_arguments(self, parser):
        parser.add_argument("--quiet", action="store_true", help="Do not print the logins.")

    def handle(self, *args, quiet=False, **options):
        data = demo_seed()
        if not quiet:
            self.stdout.write(demo_banner(data))
