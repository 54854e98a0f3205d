"""Write nginx's program CA bundle and CRLs (protocol.trust) and reload nginx gracefully."""

from pathlib import Path

from django.core.management.base import BaseCommand

from protocol.trust import trust_write


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--dir", type=Path, help="instead of SEP2_TLS_DIR")
        parser.add_argument("--no-reload", action="store_true", help="only write the files")

    def handle(self, *args, dir, no_reload, **options):
        written = trust_write(folder=dir, reload=not no_reload)
        if not written["changed"]:
            nginx = "nginx already has these CAs and revocations: nothing rewritten or reloaded"
        elif written["reloaded"]:
            nginx = "nginx reloaded"
        elif no_reload:
            nginx = "nginx not reloaded (--no-reload)"
        else:
            nginx = "nginx not running here: not reloaded"
        self.stdout.write(
            f"{written['ca_bundle']}: {written['authorities']} CA certificates\n"
            f"{written['crl']}: {written['crls']} CRLs\n{nginx}\n"
        )
