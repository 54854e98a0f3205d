import asyncio
import contextlib

from django.core.management.base import BaseCommand, CommandError

from devices.simulator.fleet import DEMO_PORT, simulated_fleet_register
from devices.simulator.modbus_sim import MAX_UNITS_PER_PORT, BatterySimulator
from tenancy.models import Utility


class Command(BaseCommand):
    help = "Serve N simulated SunSpec batteries on 127.0.0.1; --register adds them to a utility."

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=20)
        parser.add_argument("--port", type=int, default=DEMO_PORT)
        parser.add_argument("--time-scale", type=float, default=1.0)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--units-per-port", type=int, default=MAX_UNITS_PER_PORT)
        parser.add_argument("--legacy", action="store_true", help="models 1, 103, 120, 124")
        parser.add_argument(
            "--register", metavar="UTILITY_SLUG", help="create their devices and sites there"
        )

    def handle(self, *args, count, port, time_scale, seed, units_per_port, legacy, **options):
        simulator = BatterySimulator(
            count,
            port=port,
            time_scale=time_scale,
            seed=seed,
            units_per_port=units_per_port,
            legacy=legacy,
        )
        if slug := options.get("register"):
            utility = Utility.objects.filter(slug=slug).first()
            if utility is None:
                raise CommandError(f"No utility with slug {slug!r}")
            sites = simulated_fleet_register(utility=utility, simulator=simulator)
            self.stdout.write(f"{len(sites)} connector sites registered in {utility.name}")
        self.stdout.write(f"Serving {simulator}, time x{time_scale}. Ctrl-C stops.")
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(self._serve(simulator))

    async def _serve(self, simulator: BatterySimulator) -> None:
        async with simulator:
            await asyncio.Event().wait()
