"""The API's own CPU per confirmed booking (issue 12: intake p99 < 100 ms at 50 events/s needs far less than the
~30 ms a booking costs): signed `booking.confirmed` events posted one after the other in process (ASGI transport,
no worker, no network), CPU time of this process per request, and where it goes.

    python bench/intake_cpu.py                    # 300 bookings after 30 to warm up
    python bench/intake_cpu.py --profile          # and the 40 functions with the most own time (cProfile)

The database: DATABASE_URL's server, else the embedded one; a fresh database is created and dropped. Temporal is
not needed: intake writes the run's start to the outbox, which no relay drains here.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import psycopg

from bench.chaos.scenarios.load import confirmed_event
from billflow.config import Settings
from billflow.db import Database, to_psycopg_url
from billflow.db_url import start_embedded_postgres
from billflow.services import integrations
from billflow.web.app import create_app


class _NoTemporal:
    """The app's Temporal client, never called on the intake path (the outbox holds the starts)."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"intake called Temporal ({name})")


async def measure(url: str, data_dir: Path, count: int, warmup: int, profile: bool) -> None:
    settings = Settings(DATABASE_URL=url, BILLFLOW_DATA_DIR=data_dir, BILLFLOW_PUBLIC_URL="http://billflow.test")
    db = Database(url)
    await db.create_schema()
    created = await integrations.create_integration(db, integrations.NewIntegration(name="bench"))
    app = create_app(settings, db, _NoTemporal())  # type: ignore[arg-type]
    cpu: list[float] = []
    wall: list[float] = []
    profiler = cProfile.Profile()
    run = uuid.uuid4().hex[:8]  # the events of bench/intake.py, so the two benches' bookings are the same
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://billflow.test") as http:
        for n in range(warmup + count):
            raw = json.dumps(confirmed_event(run, n)).encode()
            headers = integrations.signed_headers("bench", created.secret, raw) | {"Content-Type": "application/json"}
            measured = n >= warmup
            if measured and profile:
                profiler.enable()
            started_cpu, started = time.process_time(), time.perf_counter()
            answer = await http.post("/v1/events", content=raw, headers=headers)
            if measured:
                cpu.append(time.process_time() - started_cpu)
                wall.append(time.perf_counter() - started)
                if profile:
                    profiler.disable()
            if answer.status_code != 202 or not answer.json().get("invoice_number"):
                raise SystemExit(f"booking {n}: {answer.status_code} {answer.text[:300]}")
    await db.dispose()
    ms = lambda values, q: statistics.quantiles(values, n=100)[q - 1] * 1000  # noqa: E731
    print(f"bench/intake_cpu.py: {count} confirmed bookings in process, one after the other")
    print(f"  CPU per booking: mean {statistics.mean(cpu) * 1000:.1f} ms, p50 {ms(cpu, 50):.1f}, p99 {ms(cpu, 99):.1f}")
    print(f"  wall per booking: p50 {ms(wall, 50):.1f} ms, p99 {ms(wall, 99):.1f} ms")
    print(f"  one core's ceiling at this CPU: {1 / statistics.mean(cpu):.0f} bookings/s")
    if profile:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(40)
        print(out.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--profile", action="store_true", help="print the costliest functions (cProfile)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="billflow-intake-cpu-") as tmp:
        server = os.environ.get("DATABASE_URL") or start_embedded_postgres(Path(tmp) / "pg")
        server = to_psycopg_url(server)
        name = f"billflow_bench_{uuid.uuid4().hex[:8]}"
        admin = psycopg.connect(server.replace("+psycopg", ""), autocommit=True)
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            base, _, _ = server.rpartition("/")
            asyncio.run(measure(f"{base}/{name}", Path(tmp), args.count, args.warmup, args.profile))
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.close()


if __name__ == "__main__":
    main()
