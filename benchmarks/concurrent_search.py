"""Concurrent search (point 5 of docs/benchmarks.md): assets/s and peak RSS of ``hook.search(concurrency=N)``
over a stand-in answering each search request after 50 ms, and the 429s when it allows 4 requests at once.

The driver side (:func:`run`) configures the stand-in and runs one fresh worker subprocess per figure
(``python -m benchmarks.concurrent_search``, with the Airflow sandbox's environment, as
``benchmarks.search_memory``). A worker pages through the catalogue with
``iter_search(hook.request, ..., concurrency=N)`` (exactly what ``hook.search`` runs, plus its
``SearchStats``), consuming item by item, and measures the time, the peak RSS (VmHWM, reset just
before the loop) and, page by page, how many 429s had been heard.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Mapping, Sequence
from typing import Any

from benchmarks.common import StandInProcess, median, run_worker, write_json
from benchmarks.search_memory import _reset_peak, _status_kb

FIELDS = ("SystemIdentifier", "Title", "MediaType")
PAGE_SIZE = 100
LATENCY = 0.05  # seconds per search request at the stand-in: a realistic round trip to a remote API
CONCURRENCY = (1, 2, 4, 8)
LIMIT = 4  # the stand-in's limit in the rate-limited rows
LIMITED_CONCURRENCY = (4, 8)
RETRY_AFTER = 1.0
# 429s heard before this share of the pages are the learning; those after it, the settled state.
SETTLING_SHARE = 0.1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conn-id", required=True)
    parser.add_argument("--assets", type=int, required=True)
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--code", help="an authorization code to exchange first (the first worker only)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)

    from airflow_provider_orangelogic.api.search import SearchStats, iter_search
    from airflow_provider_orangelogic.hooks.orangelogic import OrangeLogicHook

    hook = OrangeLogicHook(args.conn_id)
    if args.code:
        # As the exchange DAG would: the pair goes to the Variable. The code comes from the stand-in's control
        # endpoint, not from an authorization URL this deployment issued, so there is no state to check.
        hook.exchange_code(args.code, skip_state_check=True)
    # Warm up outside the measurement: imports, the Variable read, the pooled connection.
    for _ in hook.search("*", fields=FIELDS, page_size=1, max_pages=1):
        pass
    pages = -(-args.assets // PAGE_SIZE)
    stats = SearchStats()
    throttled_by_page: list[int] = []
    gc.collect()
    reset = _reset_peak()
    baseline_kb = _status_kb("VmRSS") or 0
    start = time.perf_counter()
    count = 0
    items = iter_search(
        hook.request,
        "*",
        fields=FIELDS,
        page_size=PAGE_SIZE,
        max_pages=pages,
        concurrency=args.concurrency,
        stats=stats,
        on_page=lambda page, n: throttled_by_page.append(stats.throttled),
    )
    for item in items:
        count += bool(item["SystemIdentifier"])
    seconds = time.perf_counter() - start
    peak_kb = _status_kb("VmHWM") if reset else None
    if count != args.assets:
        raise RuntimeError(f"expected {args.assets} assets, got {count}")
    settled_from = int(len(throttled_by_page) * SETTLING_SHARE)
    write_json(
        args.out,
        {
            "assets": count,
            "concurrency": args.concurrency,
            "seconds": seconds,
            "assets_per_s": count / seconds,
            "baseline_mb": baseline_kb / 1024,
            "peak_mb": (peak_kb or 0) / 1024,
            "growth_mb": ((peak_kb or baseline_kb) - baseline_kb) / 1024,
            "peak_reset": reset,
            "throttled": stats.throttled,
            "throttled_after_settling": stats.throttled - throttled_by_page[max(0, settled_from - 1)],
            "peak_in_flight": stats.peak_in_flight,
            "peak_held": stats.peak_held,
            "final_concurrency": stats.final_concurrency,
            "requests": stats.requests,
        },
    )
    return 0


# -- the driver side ----------------------------------------------------------------------------


def _measure(
    env: Mapping[str, str], standin: StandInProcess, conn_id: str, assets: int, concurrency: int, code: str | None
) -> dict[str, Any]:
    before = standin.counters()
    args = ["--conn-id", conn_id, "--assets", str(assets), "--concurrency", str(concurrency)]
    if code:
        args += ["--code", code]
    result = run_worker("concurrent_search", args, env=dict(env), timeout=1200)
    after = standin.counters()
    result["server_429"] = after["search_429"] - before["search_429"]
    return result


def run(env: Mapping[str, str], standin: StandInProcess, conn_id: str, assets: int, reps: int) -> dict[str, Any]:
    """Every figure ``reps`` times, interleaved; ``standin`` serves ``assets`` or more, with LATENCY."""
    code: str | None = standin.authorize()
    open_rows: dict[int, list[dict[str, Any]]] = {c: [] for c in CONCURRENCY}
    limited_rows: dict[int, list[dict[str, Any]]] = {c: [] for c in LIMITED_CONCURRENCY}
    for _ in range(reps):
        standin.configure(search_latency=LATENCY, search_max_in_flight=0)
        for concurrency in CONCURRENCY:
            standin.configure(search_max_in_flight=0)  # resets nothing else; the peak is per stand-in
            open_rows[concurrency].append(_measure(env, standin, conn_id, assets, concurrency, code))
            code = None
        standin.configure(search_max_in_flight=LIMIT, search_retry_after=RETRY_AFTER)
        for concurrency in LIMITED_CONCURRENCY:
            limited_rows[concurrency].append(_measure(env, standin, conn_id, assets, concurrency, None))
        standin.configure(search_max_in_flight=0)
    sequential = [row["assets_per_s"] for row in open_rows[1]]

    def summary(rows: list[dict[str, Any]], limit: int) -> dict[str, Any]:
        return {
            "concurrency": rows[0]["concurrency"],
            "limit": limit,
            "assets_per_s": median([r["assets_per_s"] for r in rows]),
            # Per repetition against the sequential figure of the same repetition, then the median.
            "ratio": median([r["assets_per_s"] / s for r, s in zip(rows, sequential, strict=True)]),
            "seconds": median([r["seconds"] for r in rows]),
            "baseline_mb": median([r["baseline_mb"] for r in rows]),
            "peak_mb": median([r["peak_mb"] for r in rows]),
            "growth_mb": median([r["growth_mb"] for r in rows]),
            "peak_in_flight": max(r["peak_in_flight"] for r in rows),
            "server_429": [r["server_429"] for r in rows],
            "throttled_after_settling": [r["throttled_after_settling"] for r in rows],
            "final_concurrency": [r["final_concurrency"] for r in rows],
            "reps": len(rows),
        }

    return {
        "assets": assets,
        "page_size": PAGE_SIZE,
        "latency_s": LATENCY,
        "limit": LIMIT,
        "retry_after_s": RETRY_AFTER,
        "rows": [summary(open_rows[c], 0) for c in CONCURRENCY]
        + [summary(limited_rows[c], LIMIT) for c in LIMITED_CONCURRENCY],
        "raw": {"open": open_rows, "limited": limited_rows},
    }


if __name__ == "__main__":
    raise SystemExit(main())
