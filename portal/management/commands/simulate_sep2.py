"""Run a simulated fleet of 2030.5 batteries against the demo endpoint (var/demo credentials).

`--client-style independent` behaves like an independent CSIP client (no DeviceInformation,
the full set of system readings, events keyed by mRID); `--table` prints, when the run
ends, each device's DERControl mRID, its setpoint and what its battery did.

Before connecting, the demo fleet is made dispatchable: a Device with the simulated LFDI,
a Participant of the demo program and an EndDevice pre-registered for the demo aggregator
for each (portal.devstack.demo_fleet_prepare).
"""

import asyncio
import json

from django.core.management.base import BaseCommand, CommandError

from devices.simulator.sep2_fleet import Sep2Fleet, dispatch_table
from portal.demo import credentials_path
from portal.devstack import DEMO_UTILITY, demo_fleet_prepare


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--utility", default=DEMO_UTILITY)
        parser.add_argument("--devices", type=int, default=20)
        parser.add_argument("--time-scale", type=float, default=1.0)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--duration", type=float, default=None, help="seconds (default: forever)"
        )
        parser.add_argument("--no-prepare", action="store_true", help="skip Devices/Participants")
        parser.add_argument(
            "--client-style", choices=("reservoir", "independent"), default="reservoir"
        )
        parser.add_argument(
            "--table", action="store_true", help="print the dispatch table at the end"
        )

    def handle(
        self,
        *args,
        utility,
        devices,
        time_scale,
        seed,
        duration,
        no_prepare,
        client_style="reservoir",
        table=False,
        **options,
    ):
        path = credentials_path()
        sep2 = json.loads(path.read_text()).get("sep2") if path.exists() else None
        if not sep2:
            raise CommandError("No 2030.5 demo credentials: run `manage.py sep2_demo_pki` first.")
        if sep2.get("utility", utility) != utility:
            raise CommandError(f"The demo credentials belong to {sep2['utility']}, not {utility}.")
        aggregator = sep2["clients"]["aggregator"]
        if not no_prepare:
            demo_fleet_prepare(
                utility_slug=utility,
                aggregator_lfdi=aggregator["lfdi"],
                devices=devices,
                seed=seed,
            )
        fleet = Sep2Fleet(
            base_url=sep2["dcap"].rsplit("/dcap", 1)[0],
            devices=devices,
            cert_path=aggregator["cert"],
            key_path=aggregator["key"],
            ca_path=sep2["ca_bundle"],
            seed=seed,
            time_scale=time_scale,
            client_style=client_style,
        )
        self.stdout.write(f"Simulating {devices} 2030.5 batteries against {sep2['dcap']}\n")
        try:
            stats = asyncio.run(fleet.run(duration_s=duration))
        except KeyboardInterrupt:
            stats = fleet.stats
        if table:
            self.stdout.write(dispatch_table(fleet) + "\n")
        self.stdout.write(
            f"{stats.registered}/{devices} registered, {stats.requests} requests, "
            f"{stats.errors} errors, responses {stats.responses}\n"
        )
