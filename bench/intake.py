"""Booking intake: signed booking.confirmed events at a steady rate for a while, the worker running; prints the
acceptance p50/p99 (each answer carries its invoice number), the 5xx count, and how soon every run started.

    python bench/intake.py                      # 50 events/s for 60 s (issue 12: p99 < 100 ms, 0 5xx)
    python bench/intake.py --rate 20 --seconds 10

Everything on this machine, as in the fault suite (bench/chaos.py): an embedded PostgreSQL of its own, a Temporal
dev server, the worker (with the outbox relay) and the web app as child processes.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.chaos.harness import ChaosStack
from bench.chaos.intake_run import run_intake
from bench.chaos.processes import OwnedPostgres


async def main(rate: float, seconds: float, worker_niceness: int = 0) -> int:
    with tempfile.TemporaryDirectory(prefix="billflow-intake-") as tmp:
        postgres = OwnedPostgres(Path(tmp) / "postgres")
        try:
            async with ChaosStack(postgres, Path(tmp) / "stack", api=True, worker_niceness=worker_niceness) as stack:
                figures = await run_intake(stack, rate=rate, seconds=seconds)
        finally:
            postgres.close()
    print(f"bench/intake.py {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {rate:.0f} signed events/s for {seconds:.0f} s")
    for line in figures.summary():
        print(" ", line)
    five_xx = sum(n for status, n in figures.statuses.items() if status.startswith("5"))
    print(f"  5xx: {five_xx}; invoices missing: {len(figures.invoices_missing)}; never started: "
          f"{len(figures.never_started)}")  # fmt: skip
    for problem in figures.problems[:10]:
        print("  problem:", problem)
    return 0 if not figures.problems and figures.lost == 0 and figures.duplicates == 0 else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=50.0, help="events per second")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to send")
    parser.add_argument(
        "--worker-niceness",
        type=int,
        default=0,
        help="run the worker at this niceness (e.g. 10): on one small machine the API answers first and the "
        "worker's backlog waits, as when they run on machines of their own",
    )
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.rate, args.seconds, args.worker_niceness)))
