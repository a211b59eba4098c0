"""How long `billflow` takes to start: wall time and import time per command (issue 11, item 15).

    .venv/bin/python bench/cli_startup.py            # --help and the --help of the read-only commands
    .venv/bin/python bench/cli_startup.py --run      # also runs the read-only commands against the database

Each command runs in a fresh interpreter under `python -X importtime`; import time is the sum of the top-level
imports' cumulative times (everything the command imported, lazily or not). "bare python" is the floor: the
interpreter with nothing imported, and "- bare" is each command's CPU time above it, in the same run. The median
of --repeat runs is printed; on a shared machine read the CPU column (the child's user + system time), which
waiting for a core does not inflate. Target: under 0.3 s of CPU for --help and the read-only commands. --run needs
a database (DATABASE_URL, or the embedded one); the read-only commands read it through psycopg alone
(starter/reads/), `invoice show` of the newest invoice and `subscription|credit-note|client show` of an existing
one included (Temporal asked only when it listens).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

HEAVY = ("temporalio", "sqlalchemy", "stripe", "sendgrid", "fpdf", "fastapi", "workflows")
TARGET_CPU = 0.3  # seconds of CPU (issue 11, item 15)
LAUNCH = "import sys; sys.argv = ['billflow', *sys.argv[1:]]; from starter.cli import main; main()"

CASES: list[tuple[str, list[str]]] = [
    ("billflow --help", ["--help"]),
    ("billflow invoice list --help", ["invoice", "list", "--help"]),
    ("billflow client list --help", ["client", "list", "--help"]),
    ("billflow invoice show --help", ["invoice", "show", "--help"]),
    ("billflow report aging --help", ["report", "aging", "--help"]),
]
RUNS: list[tuple[str, list[str]]] = [
    ("billflow invoice list", ["invoice", "list", "--limit", "5"]),
    ("billflow invoice show (unknown)", ["invoice", "show", "INV-0000-000000"]),
    ("billflow client list --json", ["client", "list", "--limit", "5", "--json"]),
    ("billflow client list", ["client", "list", "--limit", "5"]),
    ("billflow report aging", ["report", "aging"]),
    ("billflow report cash", ["report", "cash"]),
    ("billflow report dso --csv", ["report", "dso", "--csv"]),
    ("billflow workspace list", ["workspace", "list"]),
    ("billflow invoice list --json", ["invoice", "list", "--limit", "5", "--json"]),
    ("billflow key list", ["key", "list"]),
    ("billflow user list", ["user", "list"]),
    ("billflow integration list", ["integration", "list"]),
    ("billflow catalog list", ["catalog", "list"]),
    ("billflow outbox", ["outbox", "--limit", "5"]),
    ("billflow db current", ["db", "current"]),
    ("billflow subscription list", ["subscription", "list", "--limit", "5"]),
    ("billflow subscription list --json", ["subscription", "list", "--limit", "5", "--json"]),
    ("billflow subscription show (unknown)", ["subscription", "show", "sub-none"]),
    ("billflow credit-note list", ["credit-note", "list", "--limit", "5"]),
    ("billflow credit-note list --json", ["credit-note", "list", "--limit", "5", "--json"]),
    ("billflow credit-note show (unknown)", ["credit-note", "show", "CN-0000-000000"]),
    ("billflow client show (unknown)", ["client", "show", "no-such-client"]),
    ("billflow workspace show", ["workspace", "show", "1"]),
    ("billflow workspace show --json", ["workspace", "show", "1", "--json"]),
    ("billflow workspace list --json", ["workspace", "list", "--json"]),
    ("billflow interest rates list", ["interest", "rates", "list"]),
    ("billflow interest rates list --json", ["interest", "rates", "list", "--json"]),
]


def newest_invoice() -> list[tuple[str, list[str]]]:
    """`invoice show` of the newest invoice, when the database has one (read before the timed runs)."""
    done = subprocess.run(
        [sys.executable, "-c", LAUNCH, "invoice", "list", "--limit", "1", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    try:
        number = json.loads(done.stdout)[0]["number"]
    except (ValueError, IndexError, KeyError):
        return []
    return [("billflow invoice show (existing)", ["invoice", "show", number])]


def newest_records() -> list[tuple[str, list[str]]]:
    """`subscription show`, `credit-note show` and `client show` (text and --json) of the newest subscription,
    credit note and first client by name, for those the database has (read before the timed runs)."""
    found: list[tuple[str, list[str]]] = []
    for noun, key in (("subscription", "subscription_id"), ("credit-note", "number"), ("client", "external_id")):
        done = subprocess.run(
            [sys.executable, "-c", LAUNCH, noun, "list", "--limit", "1", "--json"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        try:
            ref = json.loads(done.stdout)[0][key]
        except (ValueError, IndexError, KeyError):
            continue
        found.append((f"billflow {noun} show (existing)", [noun, "show", ref]))
        found.append((f"billflow {noun} show --json", [noun, "show", ref, "--json"]))
    return found


def measure(args: list[str] | None) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one plain run. CPU time (user + system of the child) is the figure to trust
    on a shared machine: waiting for a core does not count."""
    code = "pass" if args is None else LAUNCH
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, *(args or [])], capture_output=True, timeout=120)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def imports(args: list[str] | None) -> tuple[float, list[str]]:
    """(import seconds, heavy packages imported) of one run under `-X importtime` (which slows it: a run of its
    own, not one of the timed ones)."""
    code = "pass" if args is None else LAUNCH
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code, *(args or [])], capture_output=True, text=True, timeout=120
    )
    micros, names = 0, set()
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, raw_name = line.removeprefix("import time:").split("|")
        name = raw_name.strip()
        names.add(name.split(".")[0])
        if len(raw_name) - len(raw_name.lstrip()) == 1:  # nesting is shown by indentation: top level has one space
            micros += int(cumulative)
    return micros / 1e6, sorted(n for n in HEAVY if n in names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--run", action="store_true", help="also run the read-only commands (needs the database)")
    options = parser.parse_args()
    runs = [*RUNS, *newest_invoice(), *newest_records()] if options.run else []
    cases: list[tuple[str, list[str] | None]] = [("bare python", None), *CASES, *runs]
    header = f"{'command':40} {'wall s':>7} {'CPU s':>6} {'- bare':>6} {'imports s':>9} {'< 0.3':>5}"
    print(header + "  heavy packages imported")
    bare_cpu = 0.0
    for label, args in cases:
        runs = [measure(args) for _ in range(options.repeat)]
        wall, cpu = (statistics.median(r[i] for r in runs) for i in range(2))
        imported, heavy = imports(args)
        bare_cpu = cpu if args is None else bare_cpu  # the floor, measured first in the same run
        verdict = "" if args is None else ("ok" if cpu < TARGET_CPU else "over")
        print(
            f"{label:40} {wall:7.3f} {cpu:6.3f} {cpu - bare_cpu:6.3f} {imported:9.3f} {verdict:>5}  "
            + (", ".join(heavy) or "-")
        )


if __name__ == "__main__":
    main()
