"""`make drill`: the long fault drills on a private stack; prints each drill's figures.

python -m tests.drills [--short] [--only NAME ...] [--json FILE]
"""

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from tests.drills import drills
from tests.drills.stack import ROOT, available


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.drills", description=__doc__)
    parser.add_argument("--short", action="store_true", help="the bounded variant CI runs")
    parser.add_argument("--only", nargs="*", help="drills to run (default: all)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    why_not = available()
    if why_not:
        print(f"cannot drill: {why_not}", file=sys.stderr)
        return 2
    root = ROOT / "var" / "drill" / time.strftime("%Y%m%d-%H%M%S")
    plan = drills.SHORT if args.short else drills.LONG
    try:
        results = drills.run(root, plan, only=set(args.only or ()) or None)
    except drills.DrillFailed as failed:
        print(f"DRILL FAILED: {failed}\nlogs: {root}", file=sys.stderr)
        return 1
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
