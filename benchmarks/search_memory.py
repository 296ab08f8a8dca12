"""Search memory (point 4 of docs/benchmarks.md): peak RSS while ``OrangeLogicHook.search(page_size=1000)``
pages through N assets.

Runs as ``python -m benchmarks.search_memory`` in a fresh subprocess per figure, with the Airflow
sandbox's environment (the hook reads its connection and Variable from the metadata DB).

``stream`` consumes the hook's iterator one item at a time, as the search example DAG does;
``list`` is the naive version that collects every item first. Peak RSS is the kernel's high-water
mark (VmHWM), reset just before the loop by writing 5 to /proc/self/clear_refs, so that a higher
peak during Airflow's import cannot hide growth during the loop (getrusage's ru_maxrss, which the
same write resets, is the fallback where that is not possible).
"""

from __future__ import annotations

import argparse
import gc
import resource
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.common import write_json

FIELDS = ("SystemIdentifier", "Title", "MediaType")


def _status_kb(field: str) -> int | None:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return None


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conn-id", required=True)
    parser.add_argument("--assets", type=int, required=True)
    parser.add_argument("--mode", choices=("stream", "list"), required=True)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)

    from airflow_provider_orangelogic.hooks.orangelogic import OrangeLogicHook

    hook = OrangeLogicHook(args.conn_id)
    # Warm up outside the measurement: imports, the Variable read, the pooled connection.
    for _ in hook.search("*", fields=FIELDS, page_size=1, max_pages=1):
        pass
    pages = -(-args.assets // args.page_size)
    gc.collect()
    startup_peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    reset = _reset_peak()
    baseline_kb = _status_kb("VmRSS") or 0
    start = time.perf_counter()
    items = hook.search("*", fields=FIELDS, page_size=args.page_size, max_pages=pages)
    if args.mode == "list":
        collected = list(items)
        count = len(collected)
    else:
        count = 0
        for item in items:
            count += bool(item["SystemIdentifier"])
    seconds = time.perf_counter() - start
    peak_kb = (_status_kb("VmHWM") if reset else None) or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if count != args.assets:
        raise RuntimeError(f"expected {args.assets} assets, got {count}")
    write_json(
        args.out,
        {
            "assets": count,
            "mode": args.mode,
            "seconds": seconds,
            "baseline_mb": baseline_kb / 1024,
            "peak_mb": peak_kb / 1024,
            "growth_mb": (peak_kb - baseline_kb) / 1024,
            "peak_reset": reset,
            "startup_peak_mb": startup_peak_kb / 1024,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
