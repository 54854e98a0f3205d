"""Poll 1,000 simulated SunSpec batteries over loopback; print polls/s, CPU per poll, ratios.

    python -m bench modbus      # or: python -m bench.modbus [--sites 1000] [--rounds 3]
                                #     [--concurrency 64] [--no-store]

Target (issue 18): at least 1,000 polls/s across a simulated fleet. Two figures each:

- poll only: `poll_sites` on SunSpecSite clients that keep their connections and maps;
- poll + store: `connectors_poll`, the connector's job as beat runs it: claim the due
  sites, poll them, store every reading through `telemetry_ingest` (one batch per
  utility) and record every site's outcome; a poll counts only once its samples are rows.

The simulator runs in one child process per port (200 units each), so it is not one
process capped at one core. On a 2-core machine the poller and the simulator still share
the cores, so the wall-clock polls/s is the machine's, not the poller's: the honest figure
for the poller is its own CPU per poll (time.process_time of this process) and the rate
it implies on one core. The simulator's CPU per poll is printed beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from devices.connectors.sunspec.client import SunSpecSite, poll_sites, set_concurrency_limit
from devices.simulator.modbus_sim import LOOPBACK, serve

UNITS_PER_PORT = 200
TARGET_POLLS_S = 1000.0
CLK_TCK = os.sysconf("SC_CLK_TCK")


def _run_simulator(port: int, count: int, seed: int) -> None:
    asyncio.run(
        serve(port=port, count=count, units_per_port=UNITS_PER_PORT, time_scale=60.0, seed=seed)
    )


def _free_base_port(count: int) -> int:
    while True:
        with socket.socket() as probe:
            probe.bind((LOOPBACK, 0))
            base = probe.getsockname()[1]
        if base + count > 65535:
            continue
        try:
            for port in range(base, base + count):
                with socket.socket() as sock:
                    sock.bind((LOOPBACK, port))
        except OSError:
            continue
        return base


def _wait_for_ports(ports: list[int], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    for port in ports:
        while True:
            try:
                with socket.create_connection((LOOPBACK, port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"simulator did not open port {port}") from None
                time.sleep(0.05)


def _process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of another process (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


class SimulatorFleet:
    """`sites` simulated batteries, UNITS_PER_PORT per port, one simulator process per port."""

    def __init__(self, sites: int) -> None:
        self.sites = sites
        self.port_count = -(-sites // UNITS_PER_PORT)
        self.base = _free_base_port(self.port_count)
        ctx = multiprocessing.get_context("spawn")
        self.processes = [
            ctx.Process(
                target=_run_simulator,
                args=(self.base + i, min(UNITS_PER_PORT, sites - i * UNITS_PER_PORT), i),
                daemon=True,
            )
            for i in range(self.port_count)
        ]

    def endpoint(self, index: int) -> tuple[int, int]:
        """(port, unit id) of site `index`."""
        return self.base + index // UNITS_PER_PORT, index % UNITS_PER_PORT + 1

    def __enter__(self) -> SimulatorFleet:
        for process in self.processes:
            process.start()
        _wait_for_ports(list(range(self.base, self.base + self.port_count)))
        return self

    def __exit__(self, *exc: object) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.join(timeout=10)

    def cpu_s(self) -> float:
        return sum(_process_cpu_s(p.pid) for p in self.processes if p.pid is not None)


@dataclass
class Round:
    polls: int
    ok: int
    wall_s: float
    cpu_s: float
    sim_cpu_s: float
    stored: int | None = None  # polls whose samples are rows (poll + store only)

    @property
    def rate(self) -> float:
        return (self.ok if self.stored is None else self.stored) / self.wall_s

    @property
    def cpu_ms(self) -> float:
        return 1000 * self.cpu_s / self.polls

    def row(self, label: str) -> str:
        stored = "" if self.stored is None else f" {self.stored:>7}"
        return (
            f"{label:>5} {self.ok:>6}{stored} {self.wall_s:>8.3f} {self.rate:>8.0f}"
            f" {self.cpu_ms:>9.3f} {1000 * self.sim_cpu_s / self.polls:>9.3f}"
        )


def _measured(fleet: SimulatorFleet, work) -> tuple[object, float, float, float]:
    cpu0, sim0, wall0 = time.process_time(), fleet.cpu_s(), time.perf_counter()
    result = work()
    wall = time.perf_counter() - wall0
    return result, wall, time.process_time() - cpu0, fleet.cpu_s() - sim0


def _poll_only(fleet: SimulatorFleet, rounds: int) -> list[Round]:
    sites = []
    for i in range(fleet.sites):
        port, unit = fleet.endpoint(i)
        sites.append(SunSpecSite(f"site-{i}", LOOPBACK, port=port, device_id=unit))
    now = datetime.now(UTC)
    out = []

    async def run() -> None:
        for number in range(rounds + 1):
            at = now + timedelta(seconds=number)
            outcomes, wall, cpu, sim = await _timed_async(fleet, poll_sites(sites, now=at))
            ok = sum(o.status == "ok" for o in outcomes)
            out.append(Round(len(sites), ok, wall, cpu, sim))
        for site in sites:
            await site.close()

    asyncio.run(run())
    return out


async def _timed_async(fleet: SimulatorFleet, coro):
    cpu0, sim0, wall0 = time.process_time(), fleet.cpu_s(), time.perf_counter()
    result = await coro
    wall = time.perf_counter() - wall0
    return result, wall, time.process_time() - cpu0, fleet.cpu_s() - sim0


def _poll_and_store(fleet: SimulatorFleet, rounds: int) -> list[Round]:
    from bench._django import setup, throwaway_utility

    print(f"database: {setup()}")
    from devices.connectors.services import connectors_poll
    from devices.models import ConnectorSite, Device, TelemetrySample

    utility = throwaway_utility("bench-modbus")
    try:
        devices = Device.objects.bulk_create(
            Device(utility=utility, vendor_name="Sim", model_name="SunSpec", serial=f"M{i:06d}")
            for i in range(fleet.sites)
        )
        rows = []
        for i, device in enumerate(devices):
            port, unit = fleet.endpoint(i)
            rows.append(
                ConnectorSite(
                    utility=utility,
                    name=f"sim-{i}",
                    host=LOOPBACK,
                    port=port,
                    unit_id=unit,
                    device=device,
                    poll_interval_s=60,
                )
            )
        sites = ConnectorSite.objects.bulk_create(rows)
        site_ids = [s.pk for s in sites]
        out = []
        # Each round is a poll interval after the last, all in the past: ingest refuses
        # readings from the future.
        now = datetime.now(UTC) - timedelta(seconds=61 * (rounds + 1))
        for number in range(rounds + 1):
            at = now + timedelta(seconds=61 * number)
            summary, wall, cpu, sim = _measured(fleet, lambda at=at: connectors_poll(now=at))
            stored = (
                TelemetrySample.objects.filter(utility=utility, at=at, channel="w")
                .values("device_id")
                .distinct()
                .count()
            )
            out.append(Round(summary.polled, summary.online, wall, cpu, sim, stored=stored))
        ConnectorSite.objects.filter(pk__in=site_ids).delete()
        return out
    finally:
        utility.delete()


def _print(title: str, rounds: list[Round], *, store: bool) -> Round:
    stored = f" {'stored':>7}" if store else ""
    print(title)
    print(
        f"{'round':>5} {'ok':>6}{stored} {'wall s':>8} {'polls/s':>8}"
        f" {'CPU ms':>9} {'sim CPU':>9}   (CPU ms per poll: this process / simulator)"
    )
    for number, result in enumerate(rounds):
        print(result.row("0*" if number == 0 else str(number)))
    steady = rounds[1:] or rounds
    best = Round(
        polls=sum(r.polls for r in steady),
        ok=sum(r.ok for r in steady),
        wall_s=sum(r.wall_s for r in steady),
        cpu_s=sum(r.cpu_s for r in steady),
        sim_cpu_s=sum(r.sim_cpu_s for r in steady),
        stored=None if not store else sum(r.stored or 0 for r in steady),
    )
    capacity = 1000 / best.cpu_ms if best.cpu_ms else float("inf")
    print(
        f"  steady rounds: {best.rate:,.0f} polls/s wall (ratio {best.rate / TARGET_POLLS_S:.2f}"
        f" to {TARGET_POLLS_S:,.0f}/s); this process {best.cpu_ms:.3f} CPU ms/poll ="
        f" {capacity:,.0f} polls per CPU-second (ratio {capacity / TARGET_POLLS_S:.2f})"
    )
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--no-store", action="store_true", help="skip the poll + store figure")
    args = parser.parse_args(argv)

    set_concurrency_limit(args.concurrency)
    with SimulatorFleet(args.sites) as fleet:
        print(
            f"{args.sites} sites on {LOOPBACK}:{fleet.base}..{fleet.base + fleet.port_count - 1}"
            f" in {len(fleet.processes)} simulator processes, concurrency {args.concurrency},"
            f" models 1/701/702/704/713/715/802; {os.cpu_count()} cores,"
            f" load average {os.getloadavg()[0]:.2f}"
        )
        _print(
            "poll only (poll_sites, connections and maps kept):",
            _poll_only(fleet, args.rounds),
            store=False,
        )
        if not args.no_store:
            _print(
                "poll + store (connectors_poll: claim, poll, telemetry_ingest, record):",
                _poll_and_store(fleet, args.rounds),
                store=True,
            )
        print("* round 0 connects and runs SunSpec discovery for every site (not in the ratios)")
        print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
