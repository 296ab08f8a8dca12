"""
### Orange Logic end-to-end load: many consumers calling the Search API across token expiries

Started by the end-to-end suite (tests/e2e). `consumers` mapped tasks run at once; each calls the
Search API through `OrangeLogicHook` every `interval` seconds for `seconds` seconds, alternating
`search()` and `request()`. Consumers never refresh (`refresh_on_demand` stays off): when the
access token expires they wait for `orangelogic_token_refresh` to store a new pair.

What the suite asserts does not depend on how fast the machine is: the consumers wait for each
other at a start line (a file per consumer in `start_line`, a folder every host of the test
deployment can see) before their `seconds` begin, so all of them overlap; and a consumer that has
used fewer than `min_access_tokens` distinct access tokens when its `seconds` are over goes on
until it has (at most three times `seconds`), so it lives through that many expiries.

Each consumer returns figures only (calls, how many distinct access tokens it used, its slowest
call, which host ran it), never a token.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import DAG, Param, task

SEARCH_ENDPOINT = "/API/search/v4.0/search"
# A call slower than this waited for something (usually for the refresh DAG to renew the token).
STALL_SECONDS = 2.0


def _one_call(hook: Any, *, use_search: bool) -> int:
    """One Search API call, through the paging helper or the raw request method in turn."""
    if use_search:
        return sum(1 for _ in hook.search("MediaType:Image", page_size=10, max_pages=1))
    response = hook.request(
        "GET",
        SEARCH_ENDPOINT,
        params={"query": "MediaType:Video", "fields": "SystemIdentifier", "format": "json", "countperpage": 10},
    )
    return len(response.json()["APIResponse"]["Items"])


def _wait_at_start_line(folder: str, slot: int, consumers: int, timeout: float) -> float:
    """Mark this consumer as started, then wait until every consumer has (or ``timeout``); returns the wait.

    A retried consumer finds its own mark and the others' already there, and goes straight on.
    """
    if not folder:
        return 0.0
    started = time.monotonic()
    line = Path(folder)
    line.mkdir(parents=True, exist_ok=True)
    (line / f"{slot}.started").touch()
    while len(list(line.glob("*.started"))) < consumers and time.monotonic() - started < timeout:
        time.sleep(0.2)
    return time.monotonic() - started


with DAG(
    dag_id="orangelogic_e2e_load",
    description="End-to-end load: concurrent Orange Logic consumers across access-token expiries.",
    doc_md=__doc__,
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    max_active_tasks=64,  # all consumers at once (Airflow's default is 16 per DAG)
    tags=["orangelogic", "e2e"],
    params={
        "conn_id": Param("orangelogic_default", type="string", minLength=1),
        "consumers": Param(32, type="integer", minimum=1, maximum=64),
        "seconds": Param(150, type="number", minimum=1),
        "interval": Param(1.0, type="number", minimum=0.1),
        "wait_for_refresh": Param(90, type="number", minimum=1),
        "min_access_tokens": Param(4, type="integer", minimum=1),
        # Empty: no start line (each consumer starts at once).
        "start_line": Param("", type="string"),
        "start_line_timeout": Param(600, type="number", minimum=1),
    },
    default_args={"retries": 2, "retry_delay": timedelta(seconds=5)},
) as dag:

    @task
    def slots(params: dict[str, Any]) -> list[int]:
        return list(range(params["consumers"]))

    @task
    def consume(slot: int, params: dict[str, Any]) -> dict[str, Any]:
        from airflow_provider_orangelogic.hooks.orangelogic import OrangeLogicHook

        hook = OrangeLogicHook(params["conn_id"], wait_for_refresh=params["wait_for_refresh"])
        started_at = time.time()
        waited = _wait_at_start_line(params["start_line"], slot, params["consumers"], params["start_line_timeout"])
        deadline = time.monotonic() + params["seconds"]
        hard_deadline = time.monotonic() + 3 * params["seconds"]
        calls = items = stalled = 0
        slowest = 0.0
        # Digests only: which access tokens were used is counted, and the tokens stay out of memory dumps.
        token_digests: set[str] = set()
        while time.monotonic() < deadline or (
            len(token_digests) < params["min_access_tokens"] and time.monotonic() < hard_deadline
        ):
            call_started = time.monotonic()
            items += _one_call(hook, use_search=calls % 2 == 0)
            took = time.monotonic() - call_started
            calls += 1
            slowest = max(slowest, took)
            if took > STALL_SECONDS:
                stalled += 1
            token_digests.add(hashlib.sha256(hook.get_access_token().encode()).hexdigest())
            time.sleep(max(0.0, params["interval"] - took))
        return {
            "slot": slot,
            "host": os.environ.get("ORANGELOGIC_E2E_HOST", socket.gethostname()),
            "lock_dir": os.environ.get("ORANGELOGIC_LOCK_DIR", ""),
            "calls": calls,
            "items": items,
            "access_tokens_used": len(token_digests),
            "stalled_calls": stalled,
            "slowest_call_seconds": round(slowest, 3),
            "waited_at_start_line_seconds": round(waited, 3),
            "started_at": started_at,
            "ended_at": time.time(),
        }

    consume.expand(slot=slots())
