"""`make bench`: run every benchmark section and print figures and ratios.

Each module in this package that defines ``main(argv)`` is a section. Pass section names
to run only those: ``make bench BENCH_ARGS="modbus"``. Benchmarks are never tests: they
print numbers, they do not assert wall-clock times.
"""

import importlib
import pkgutil
import sys
import time
from pathlib import Path


def sections() -> dict[str, object]:
    found = {}
    for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
        # ASGI entry points set Django up on import, with the wrong database for a section;
        # URLconfs import models, which needs Django set up first.
        if info.name.startswith("_") or info.name.endswith(("_asgi", "_urls")):
            continue
        module = importlib.import_module(f"bench.{info.name}")
        if callable(getattr(module, "main", None)):
            found[info.name] = module
    return found


def run(argv: list[str]) -> int:
    available = sections()
    wanted = [name for name in argv if not name.startswith("-")] or sorted(available)
    unknown = [name for name in wanted if name not in available]
    if unknown:
        print(f"unknown bench sections {unknown}; available: {sorted(available)}")
        return 2
    if not available:
        print("no benchmark sections yet")
        return 0
    for name in wanted:
        print(f"\n=== bench: {name}")
        started = time.perf_counter()
        available[name].main([])
        print(f"=== {name} finished in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
