"""Poll 1,000 simulated SunSpec batteries over loopback; print polls/s, CPU per poll, ratios.

    python -m bench modbus      # or: python -m bench.modbus [--sites 1000] [--rounds 3]
                                #     [--concurrency 64] [--no-store] [--device lean]

Target (issue 18): at least 1,000 polls/s across a simulated fleet. Two figures each:

- poll only: `poll_sites` on SunSpecSite clients that keep their connections and maps;
- poll + store: `connectors_poll`, the connector's job as beat runs it: claim the due
  sites, poll them, store every reading through `telemetry_ingest` (one batch per
  utility) and record every site's outcome; a poll counts only once its samples are rows.

The simulator runs in one child process per port (200 units each), so it is not one
process capped at one core. The device side is not the system under test: by default its
units are served by `LeanModbusServer` (the same `BatterySimulator` units, register image
and request hook as the production simulator, answering byte for byte as pymodbus does,
tests/devices/simulator/test_modbus_lean.py), since pymodbus's server cost more CPU per
request than our poller; `--device pymodbus` (or `both`) measures with pymodbus's server.

On a 2-core machine the poller and the simulator share the cores (and with other work on
the machine), so the wall-clock polls/s is the machine's, not only the poller's. Each round
prints this process's CPU per poll (time.process_time), the simulator's (/proc), and the
time the poller and simulator processes spent runnable but waiting for a core (the
run-queue delay of /proc/<pid>/schedstat): what remains of the wall clock is waiting on
the network, on each other or on the database.
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


DEVICES = {"lean": True, "pymodbus": False}  # --device: serve with the lean responder?


def _run_simulator(port: int, count: int, seed: int, lean: bool) -> None:
    asyncio.run(
        serve(
            port=port,
            count=count,
            units_per_port=UNITS_PER_PORT,
            time_scale=60.0,
            seed=seed,
            lean=lean,
        )
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


def _runqueue_wait_s(pid: int) -> float:
    """Seconds a process's main thread has spent runnable, waiting for a core (Linux)."""
    try:
        with open(f"/proc/{pid}/schedstat") as stat:
            return int(stat.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


class SimulatorFleet:
    """`sites` simulated batteries, UNITS_PER_PORT per port, one simulator process per port."""

    def __init__(self, sites: int, *, lean: bool) -> None:
        self.sites = sites
        self.lean = lean
        self.port_count = -(-sites // UNITS_PER_PORT)
        self.base = _free_base_port(self.port_count)
        ctx = multiprocessing.get_context("spawn")
        self.processes = [
            ctx.Process(
                target=_run_simulator,
                args=(self.base + i, min(UNITS_PER_PORT, sites - i * UNITS_PER_PORT), i, lean),
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

    def wait_s(self) -> float:
        """Run-queue wait of the poller (this process) and every simulator process."""
        pids = [os.getpid(), *(p.pid for p in self.processes if p.pid is not None)]
        return sum(_runqueue_wait_s(pid) for pid in pids)


@dataclass
class Round:
    polls: int
    ok: int
    wall_s: float
    cpu_s: float
    sim_cpu_s: float
    wait_s: float  # run-queue wait of the poller and the simulator processes
    stored: int | None = None  # polls whose samples are rows (poll + store only)

    @property
    def rate(self) -> float:
        return (self.ok if self.stored is None else self.stored) / self.wall_s

    @property
    def cpu_ms(self) -> float:
        return 1000 * self.cpu_s / self.polls

    @property
    def sim_cpu_ms(self) -> float:
        return 1000 * self.sim_cpu_s / self.polls

    def row(self, label: str) -> str:
        stored = "" if self.stored is None else f" {self.stored:>7}"
        return (
            f"{label:>5} {self.ok:>6}{stored} {self.wall_s:>8.3f} {self.rate:>8.0f}"
            f" {self.cpu_ms:>9.3f} {self.sim_cpu_ms:>9.3f} {self.wait_s:>8.3f}"
        )


class _Meter:
    """Wall clock, this process's CPU, the simulators' CPU and run-queue wait, from now."""

    def __init__(self, fleet: SimulatorFleet) -> None:
        self.fleet = fleet
        self.cpu0, self.sim0 = time.process_time(), fleet.cpu_s()
        self.wait0, self.wall0 = fleet.wait_s(), time.perf_counter()

    def round(self, polls: int, ok: int, stored: int | None = None) -> Round:
        wall = time.perf_counter() - self.wall0
        return Round(
            polls,
            ok,
            wall,
            time.process_time() - self.cpu0,
            self.fleet.cpu_s() - self.sim0,
            self.fleet.wait_s() - self.wait0,
            stored,
        )


def _poll_only(fleet: SimulatorFleet, rounds: int) -> list[Round]:
    sites = []
    for i in range(fleet.sites):
        port, unit = fleet.endpoint(i)
        sites.append(SunSpecSite(f"site-{i}", LOOPBACK, port=port, device_id=unit))
    now = datetime.now(UTC)
    out = []

    async def run() -> None:
        for number in range(rounds + 1):
            meter = _Meter(fleet)
            outcomes = await poll_sites(sites, now=now + timedelta(seconds=number))
            out.append(meter.round(len(sites), sum(o.status == "ok" for o in outcomes)))
        for site in sites:
            await site.close()

    asyncio.run(run())
    return out


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
            meter = _Meter(fleet)
            summary = connectors_poll(now=at)
            polled = meter.round(summary.polled, summary.online)
            polled.stored = (
                TelemetrySample.objects.filter(utility=utility, at=at, channel="w")
                .values("device_id")
                .distinct()
                .count()
            )
            out.append(polled)
        ConnectorSite.objects.filter(pk__in=site_ids).delete()
        return out
    finally:
        utility.delete()


def _print(title: str, rounds: list[Round], *, store: bool) -> Round:
    stored = f" {'stored':>7}" if store else ""
    print(title)
    print(
        f"{'round':>5} {'ok':>6}{stored} {'wall s':>8} {'polls/s':>8}"
        f" {'CPU ms':>9} {'sim CPU':>9} {'runq s':>8}"
        "   (CPU ms per poll: this process / simulator; runq: waiting for a core)"
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
        wait_s=sum(r.wait_s for r in steady),
        stored=None if not store else sum(r.stored or 0 for r in steady),
    )
    capacity = 1000 / best.cpu_ms if best.cpu_ms else float("inf")
    print(
        f"  steady rounds: {best.rate:,.0f} polls/s wall (ratio {best.rate / TARGET_POLLS_S:.2f}"
        f" to {TARGET_POLLS_S:,.0f}/s); this process {best.cpu_ms:.3f} CPU ms/poll ="
        f" {capacity:,.0f} polls per CPU-second (ratio {capacity / TARGET_POLLS_S:.2f});"
        f" simulator {best.sim_cpu_ms:.3f} CPU ms/poll"
    )
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--no-store", action="store_true", help="skip the poll + store figure")
    parser.add_argument(
        "--device",
        choices=[*DEVICES, "both"],
        default="lean",
        help="the simulator's Modbus server (both: lean, then pymodbus, in one run)",
    )
    args = parser.parse_args(argv)

    set_concurrency_limit(args.concurrency)
    for device in DEVICES if args.device == "both" else [args.device]:
        _run(args, device)


def _run(args: argparse.Namespace, device: str) -> None:
    with SimulatorFleet(args.sites, lean=DEVICES[device]) as fleet:
        print(
            f"{args.sites} sites on {LOOPBACK}:{fleet.base}..{fleet.base + fleet.port_count - 1}"
            f" in {len(fleet.processes)} simulator processes served by {device},"
            f" concurrency {args.concurrency}, models 1/701/702/704/713/715/802;"
            f" {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}"
        )
        _print(
            f"[{device}] poll only (poll_sites, connections and maps kept):",
            _poll_only(fleet, args.rounds),
            store=False,
        )
        if not args.no_store:
            _print(
                f"[{device}] poll + store (connectors_poll: claim, poll, telemetry_ingest,"
                " record):",
                _poll_and_store(fleet, args.rounds),
                store=True,
            )
        print("* round 0 connects and runs SunSpec discovery for every site (not in the ratios)")
        print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
