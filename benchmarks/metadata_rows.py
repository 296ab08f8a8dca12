"""Metadata rows (issue 22, item 6): rows/s of ``update_metadata`` at concurrency 1 and 4, and their ratio.

The stand-in runs in a separate process (``testing/process.py`` StandInProcess, so it shares no GIL with the
client) with ``data_latency`` seconds per DataTable call (0.05 s: a realistic round trip to a remote API). The
client is exactly what ``OrangeLogicHook.update_metadata`` runs: ``api/metadata.update_metadata`` over
``send_with_retries`` on the hook's pooled bearer session (``api/session.py``), here with a fixed bearer token
the stand-in accepts instead of an Airflow connection (the figures measure the DataTable path, not Airflow's
start-up). Each row sets a title and adds two tags with ``++=`` (one POST form call per row); every
``reps`` repetition runs concurrency 1 then 4 on fresh rows, and the ratio is taken per repetition.

    .venv/bin/python -m benchmarks.metadata_rows            # 10,000 rows per figure (about 10 minutes)
    .venv/bin/python -m benchmarks.metadata_rows --rows 2000
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from typing import Any

from airflow_provider_orangelogic.api.metadata import update_metadata
from airflow_provider_orangelogic.api.session import FixedToken, new_session, send_with_retries
from airflow_provider_orangelogic.core.errors import OrangeLogicAPIError
from airflow_provider_orangelogic.core.retry import RetryPolicy
from benchmarks.common import StandInProcess, median

LATENCY = 0.05
CONCURRENCY = (1, 4)
TOKEN = "bench-metadata-token-5Jd"


def _request(base_url: str) -> Any:
    session = new_session(FixedToken(TOKEN), base_url=base_url)
    retry = RetryPolicy()

    def request(method: str, endpoint: str, **kwargs: Any) -> Any:
        response = send_with_retries(session, method, base_url + endpoint, retry=retry, timeout=30.0, **kwargs)
        if not response.ok:
            raise OrangeLogicAPIError(
                f"{method} {endpoint} answered HTTP {response.status_code}", status_code=response.status_code
            )
        return response

    return request


def _rows(count: int, tag: str) -> list[dict[str, Any]]:
    return [
        {"RecordID": str(n), "fields": {"CoreField.Title": f"Bench {tag} {n}",
                                        "CoreField.Keywords": {"op": "++=", "value": [f"bench-{tag}", "Product"]}}}
        for n in range(1, count + 1)
    ]  # fmt: skip


def measure(request: Any, rows: list[dict[str, Any]], concurrency: int) -> dict[str, Any]:
    start = time.perf_counter()
    result = update_metadata(request, rows, concurrency=concurrency)
    seconds = time.perf_counter() - start
    ok = result.count("ok")
    if ok != len(rows):
        raise RuntimeError(f"{len(rows) - ok} row(s) did not land: {result.summary()['failures'][:3]}")
    return {
        "concurrency": concurrency,
        "rows": ok,
        "seconds": seconds,
        "rows_per_s": ok / seconds,
        "requests": result.stats.requests,
        "peak_in_flight": result.stats.peak_in_flight,
        "throttled": result.stats.throttled,
    }


def run(rows: int, reps: int, latency: float) -> dict[str, Any]:
    with StandInProcess(catalogue_size=rows) as standin:
        standin.configure(bearer_tokens=[TOKEN], data_latency=latency, data_max_in_flight=0)
        request = _request(standin.url)
        update_metadata(request, _rows(10, "warm"), concurrency=1)  # the pooled connection, imports
        figures: dict[int, list[dict[str, Any]]] = {c: [] for c in CONCURRENCY}
        for rep in range(reps):
            for concurrency in CONCURRENCY:
                figures[concurrency].append(measure(request, _rows(rows, f"r{rep}c{concurrency}"), concurrency))
        counters = standin.counters()
    sequential = [f["rows_per_s"] for f in figures[1]]
    return {
        "rows": rows,
        "latency_s": latency,
        "reps": reps,
        "figures": {
            c: {
                "rows_per_s": median([f["rows_per_s"] for f in figures[c]]),
                "seconds": median([f["seconds"] for f in figures[c]]),
                "ratio_to_sequential": median(
                    [f["rows_per_s"] / s for f, s in zip(figures[c], sequential, strict=True)]
                ),
                "peak_in_flight": max(f["peak_in_flight"] for f in figures[c]),
            }
            for c in CONCURRENCY
        },
        "server": {
            name: counters[name]
            for name in ("datatable_updates", "datatable_fields_written", "data_429", "data_peak_in_flight")
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--latency", type=float, default=LATENCY)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    result = run(args.rows, args.reps, args.latency)
    print(f"Metadata rows: {result['rows']} rows per figure, DataTable latency {result['latency_s']:g} s, "
          f"{result['reps']} repetition(s); stand-in in a separate process")  # fmt: skip
    print(f"{'concurrency':>11} {'rows/s':>9} {'seconds':>9} {'ratio':>7} {'peak in flight':>15}")
    for concurrency, figure in result["figures"].items():
        print(f"{concurrency:>11} {figure['rows_per_s']:>9.1f} {figure['seconds']:>9.1f} "
              f"{figure['ratio_to_sequential']:>6.2f}x {figure['peak_in_flight']:>15}")  # fmt: skip
    print("server:", json.dumps(result["server"]))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(result, out, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
