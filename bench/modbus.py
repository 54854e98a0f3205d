"""Poll 1,000 simulated SunSpec batteries over loopback and print throughput and CPU cost.

    python -m bench.modbus [--sites 1000] [--rounds 3] [--concurrency 64]

The simulator runs in a child process, so the CPU figure is the poller's own
(time.process_time of this process) per device polled.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import socket
import time
from datetime import UTC, datetime, timedelta

from devices.connectors.sunspec.client import SunSpecSite, poll_sites, set_concurrency_limit
from devices.simulator.modbus_sim import LOOPBACK, serve

UNITS_PER_PORT = 200


def _run_simulator(port: int, count: int) -> None:
    asyncio.run(serve(port=port, count=count, units_per_port=UNITS_PER_PORT, time_scale=60.0))


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


def _wait_for_ports(ports: list[int], timeout_s: float = 30.0) -> None:
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


async def _poll(sites: list[SunSpecSite], rounds: int) -> None:
    now = datetime.now(UTC)
    print(
        f"{'round':>5} {'ok':>6} {'offline':>7} {'wall s':>8} {'devices/s':>10} {'CPU ms/poll':>12}"
    )
    for number in range(1, rounds + 1):
        cpu0, wall0 = time.process_time(), time.perf_counter()
        outcomes = await poll_sites(sites, now=now + timedelta(seconds=number))
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        ok = sum(o.status == "ok" for o in outcomes)
        offline = sum(o.status != "ok" for o in outcomes)
        label = f"{number}{'*' if number == 1 else ''}"
        print(
            f"{label:>5} {ok:>6} {offline:>7} {wall:>8.3f} {len(sites) / wall:>10.0f}"
            f" {1000 * cpu / len(sites):>12.3f}"
        )
    print("* round 1 includes connecting and SunSpec discovery for every site")
    for site in sites:
        await site.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args(argv)

    port_count = -(-args.sites // UNITS_PER_PORT)
    base = _free_base_port(port_count)
    ctx = multiprocessing.get_context("spawn")
    simulator = ctx.Process(target=_run_simulator, args=(base, args.sites), daemon=True)
    simulator.start()
    try:
        _wait_for_ports(list(range(base, base + port_count)))
        set_concurrency_limit(args.concurrency)
        sites = [
            SunSpecSite(
                f"site-{i}",
                LOOPBACK,
                port=base + i // UNITS_PER_PORT,
                device_id=i % UNITS_PER_PORT + 1,
            )
            for i in range(args.sites)
        ]
        print(
            f"{args.sites} sites on {LOOPBACK}:{base}..{base + port_count - 1}, "
            f"concurrency {args.concurrency}, models 1/701/702/704/713/715/802"
        )
        asyncio.run(_poll(sites, args.rounds))
    finally:
        simulator.terminate()
        simulator.join(timeout=10)


if __name__ == "__main__":
    main()
