"""Webhook latency and throughput on a real deployment, side by side with Airflow's own REST asset events.

Starts the webhook suite's deployment (tests/webhooks/world.py: API server with 2 workers, scheduler, DAG
processor, LocalExecutor, SQLite; the stand-in as a separate process) and measures:

* latency: POST to the downstream task's start (``fetch_metadata``'s start_date), one event at a time, for a
  webhook and for the baseline, ``POST /api/v2/assets/events`` by a logged-in user with the same extra;
* throughput: ``--burst`` events on the ``edited`` asset (its DAG is paused, so runs do not compete), accepted
  events per second: one client at a time, webhook vs REST; then the webhook with ``--threads`` clients at once.

    python -m benchmarks.webhook_latency [--samples 15] [--burst 500] [--threads 16]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from benchmarks.common import OUT_DIR, median, write_json
from tests.e2e.processes import ProcessSet
from tests.webhooks.world import CREATED_DAG, WebhookWorld, event, start_world


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] if ordered else float("nan")


_asset_ids: dict[str, int | None] = {}


def _rest_event(world: WebhookWorld, kind: str, extra: dict[str, Any], session: requests.Session | None = None) -> int:
    api = world.deployment.api
    if kind not in _asset_ids:
        _asset_ids[kind] = world.asset_id(kind)
    asset_id = _asset_ids[kind]
    caller = session or api._session  # the admin's logged-in session (bearer JWT)
    response = caller.post(
        f"{api.base_url}/api/v2/assets/events", json={"asset_id": asset_id, "extra": extra}, timeout=120
    )
    return response.status_code


def _latency(world: WebhookWorld, samples: int, via: str) -> list[float]:
    seconds = []
    for n in range(samples):
        before = {run["dag_run_id"] for run in world.deployment.api.dag_runs(CREATED_DAG)}
        body = event(f"bench-{via}-{n}-{time.time_ns()}", identifier=f"OL{n + 1:07d}")
        posted = time.time()
        if via == "webhook":
            assert world.post(body).status_code == 200
        else:
            extra = {"event_id": body["EventID"], "event_type": "AssetCreated", "identifier": body["SystemIdentifier"]}
            assert _rest_event(world, "created", extra) == 200
        while True:
            new = [run for run in world.deployment.api.dag_runs(CREATED_DAG) if run["dag_run_id"] not in before]
            started = new and world.task_start(CREATED_DAG, new[0]["dag_run_id"])
            if started:
                seconds.append(datetime.fromisoformat(started).timestamp() - posted)
                break
            time.sleep(0.05)
        world.wait_for_finished_runs(CREATED_DAG, len(before) + 1)
    return seconds


def _throughput(world: WebhookWorld, burst: int, threads: int, via: str) -> tuple[float, int]:
    local = threading.local()
    token = world.deployment.api._session.headers["Authorization"]

    def one(n: int) -> int:
        if not hasattr(local, "session"):
            local.session = requests.Session()
            local.session.headers["Authorization"] = token
        body = event(f"tp-{via}-{n}-{time.time_ns()}", kind="AssetEdited")
        if via == "webhook":
            return world.post(body, session=local.session).status_code
        return _rest_event(world, "edited", {"event_id": body["EventID"]}, local.session)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        statuses = list(pool.map(one, range(burst)))
    elapsed = time.monotonic() - started
    return sum(s == 200 for s in statuses) / elapsed, sum(s != 200 for s in statuses)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=15)
    parser.add_argument("--burst", type=int, default=500)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args()
    servers = ProcessSet()
    with tempfile.TemporaryDirectory(prefix="orangelogic-bench-webhooks-") as root:
        try:
            world = start_world(Path(root), servers, max_seconds=1800)
            _latency(world, 2, "webhook")  # warm-up: first parse of the task, first token
            hook_latency = _latency(world, args.samples, "webhook")
            rest_latency = _latency(world, args.samples, "rest")
            print(f"latency (s): webhook {sorted(hook_latency)}; REST {sorted(rest_latency)}", flush=True)
            # One client at a time for the side-by-side figure: concurrent REST posts stalled this SQLite
            # deployment's API server (see docs/webhooks.md, Benchmark); the webhook also goes concurrent.
            hook_rate, hook_failed = _throughput(world, args.burst, 1, "webhook")
            rest_rate, rest_failed = _throughput(world, args.burst, 1, "rest")
            burst_rate, burst_failed = _throughput(world, args.burst, args.threads, "webhook")
        finally:
            servers.stop_all()
    figures = {
        "latency_webhook_median_s": median(hook_latency),
        "latency_webhook_p95_s": p95(hook_latency),
        "latency_rest_median_s": median(rest_latency),
        "latency_rest_p95_s": p95(rest_latency),
        "webhook_events_per_s": hook_rate,
        "rest_events_per_s": rest_rate,
        "webhook_concurrent_events_per_s": burst_rate,
        "webhook_concurrent_non_200": burst_failed,
        "webhook_non_200": hook_failed,
        "rest_non_200": rest_failed,
        "samples": args.samples,
        "burst": args.burst,
        "threads": args.threads,
    }
    print(f"POST -> downstream task start, {args.samples} events one at a time (seconds):")
    print(f"  {'':22}{'median':>8}{'p95':>8}{'stdev':>8}")
    for name, values in (("webhook", hook_latency), ("REST asset event", rest_latency)):
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        print(f"  {name:22}{median(values):8.2f}{p95(values):8.2f}{spread:8.2f}")
    print(f"  ratio webhook/REST (median): {median(hook_latency) / median(rest_latency):.2f}")
    print(f"Accepted events per second, {args.burst} posted one at a time:")
    print(f"  webhook {hook_rate:7.1f}/s ({hook_failed} not 200)   REST {rest_rate:7.1f}/s ({rest_failed} not 200)")
    print(f"  ratio webhook/REST: {hook_rate / rest_rate:.2f}")
    print(
        f"Webhook, {args.burst} posted by {args.threads} clients at once: {burst_rate:.1f}/s ({burst_failed} not 200)"
    )
    OUT_DIR.mkdir(exist_ok=True)
    write_json(OUT_DIR / "webhook_latency.json", figures)
    print(f"figures: {OUT_DIR / 'webhook_latency.json'}")


if __name__ == "__main__":
    main()
