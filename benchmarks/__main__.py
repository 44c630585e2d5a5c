"""Every benchmark table of docs/performance.md, in one run.

    .venv/bin/python -m benchmarks [--quick] [--only cold_start,peers,ledger,storm]

Cold start in the Lambda environment per handler, the peers on one emulator, the ledger at 10 /
1,000 / 100,000 history entries, and the 1,000-event storm (on the corrected emulator). ``--quick`` sizes each down (fewer
runs, two handlers, 1,000 entries at most, a 100-event storm) to check that they all still run,
in a few minutes; its figures are coarser.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence

from benchmarks import cold_start, ledger_scale, peers, storm

PARTS = ("cold_start", "peers", "ledger", "storm")


def run_storm(arguments: Sequence[str]) -> str:
    """``benchmarks.storm`` as its command line runs it (it prints as it goes), on the emulator
    corrected as for the ledger: a transaction backs up only the items it writes (the stream
    shared), a Query reads its partition. The answers are the same; the storm takes minutes, not
    twenty (``python -m benchmarks.storm`` runs it on moto as is)."""
    print(
        "(on the corrected emulator, benchmarks.ledger_scale.corrected_emulator: the storm's last line "
        "measures it, not moto's whole-table copy)",
        flush=True,
    )
    saved = sys.argv
    sys.argv = ["benchmarks.storm", "--moto-as-is", *arguments]
    try:
        with ledger_scale.corrected_emulator():
            storm.main()
    finally:
        sys.argv = saved
    return ""


def parts(quick: bool) -> dict[str, Callable[[], str]]:
    if quick:
        return {
            "cold_start": lambda: cold_start.run(
                runs=3, handlers=("alarm_events", "manual_rollback"), pyc="yes"
            ),
            "peers": lambda: peers.run(runs=1),
            "ledger": lambda: ledger_scale.run(sizes=(10, 1_000)),
            "storm": lambda: run_storm(["--services", "20", "--failing", "10", "--events", "100"]),
        }
    return {
        "cold_start": lambda: cold_start.run(runs=5),
        "peers": lambda: peers.run(runs=3),
        "ledger": ledger_scale.run,
        "storm": lambda: run_storm([]),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="every table, sized down (a few minutes)")
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma-separated, of {', '.join(PARTS)}")
    args = parser.parse_args(argv)
    chosen = [name for name in args.only.split(",") if name]
    unknown = set(chosen) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts {sorted(unknown)}")
    runners = parts(args.quick)
    for name in chosen:
        started = time.perf_counter()
        print(f"== {name} {'(quick)' if args.quick else ''}".rstrip(), flush=True)
        text = runners[name]()
        if text:
            print(text)
        print(f"({name}: {time.perf_counter() - started:.0f} s)\n", flush=True)


if __name__ == "__main__":
    main()
