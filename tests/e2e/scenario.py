"""One end-to-end run on a running deployment, driven only through public interfaces.

1. create ``orangelogic_default`` through the REST API;
2. authorize like a browser at the stand-in, trigger ``orangelogic_token_exchange`` through the
   REST API with the code;
3. unpause ``orangelogic_token_refresh`` (every few seconds here) and trigger the load DAG, whose
   consumers call the Search API across several access-token expiries and one refresh-token
   lifetime;
4. read the stored pair through the hook outside any task, pause the refresh DAG, collect task
   states, tries, XComs and the stand-in's counters, then present the stored refresh token once
   more (the strict stand-in would count a spent one as a reuse).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.e2e.deployment import Deployment
from tests.e2e.figures import Figures
from tests.e2e.processes import wait_for
from tests.e2e.rest import TERMINAL_RUN_STATES
from tests.e2e.services import StandInServer

CONN_ID = "orangelogic_default"
TOKEN_VARIABLE = f"orangelogic_token_{CONN_ID}"
EXCHANGE_DAG = "orangelogic_token_exchange"
REFRESH_DAG = "orangelogic_token_refresh"
LOAD_DAG = "orangelogic_e2e_load"
DAG_IDS = (EXCHANGE_DAG, REFRESH_DAG, LOAD_DAG, "orangelogic_search_example")


@dataclass(frozen=True)
class LoadPlan:
    consumers: int = 32
    seconds: float = 150.0
    interval: float = 1.0
    # Refresh once less than this fraction of the access token's life is left. Below the default
    # 0.5 so that a pair is renewed about once per lifetime, yet with room for a late refresh run.
    refresh_threshold: float = 0.35
    # Each consumer goes on past `seconds` until it has used this many access tokens (three expiries).
    min_access_tokens: int = 4


@dataclass
class ScenarioResult:
    figures: Figures
    load_run_state: str
    consumer_results: list[dict[str, Any]]
    consumer_states: list[str]
    # token_status() of the stored pair right after the load run, while the refresh DAG still ran.
    status_at_end: dict[str, Any]
    # After the refresh DAG was paused: the stored refresh token presented once more, then a search.
    final_use: dict[str, Any]
    variable_via_rest: dict[str, Any]
    counters_after_final_use: dict[str, int]


@dataclass
class DeploymentRun:
    """What the tests look at: the still running deployment, its stand-in, the plan and the result."""

    deployment: Deployment
    stand_in: StandInServer
    plan: LoadPlan
    result: ScenarioResult


def run_scenario(deployment: Deployment, stand_in: StandInServer, plan: LoadPlan) -> ScenarioResult:
    api = deployment.api
    wait_for_dags(deployment)
    create_connection(deployment, stand_in, plan)
    window_start = exchange_code(deployment, stand_in)
    api.set_paused(REFRESH_DAG, False)
    api.set_paused(LOAD_DAG, False)
    load_run = api.trigger(
        LOAD_DAG,
        {
            "conn_id": CONN_ID,
            "consumers": plan.consumers,
            "seconds": plan.seconds,
            "interval": plan.interval,
            "min_access_tokens": plan.min_access_tokens,
            # One machine plays every host here, so a folder of the test run is a start line they all see.
            "start_line": str(deployment.control.root.parent / "start-line"),
        },
    )
    # A hang guard only, inside the servers' budget: the start line's 600 s, a consumer's longest loop
    # (three times `seconds`, when the access tokens come slowly) and a retry's restart.
    load_run_state = wait_for_run(deployment, LOAD_DAG, load_run, timeout=plan.seconds * 3 + 600 + 120)
    status_at_end = hook_outside_task(deployment, STATUS_CHECK)
    stop_refreshing(deployment)
    window_seconds = time.monotonic() - window_start
    figures, consumers, results = collect_figures(deployment, stand_in, load_run, window_seconds)
    final_use = hook_outside_task(deployment, FINAL_USE)
    return ScenarioResult(
        figures=figures,
        load_run_state=load_run_state,
        consumer_results=results,
        consumer_states=[ti["state"] for ti in consumers],
        status_at_end=status_at_end,
        final_use=final_use,
        variable_via_rest=api.variable(TOKEN_VARIABLE),
        counters_after_final_use=stand_in.counters(),
    )


def collect_figures(
    deployment: Deployment, stand_in: StandInServer, load_run: str, window_seconds: float
) -> tuple[Figures, list[dict[str, Any]], list[dict[str, Any]]]:
    """The figures of a finished run, from the REST API (task instances, XComs) and the stand-in."""
    api = deployment.api
    counters = stand_in.counters()
    consumers = [ti for ti in api.task_instances(LOAD_DAG, load_run) if ti["task_id"] == "consume"]
    results = [
        xcom_value(deployment, LOAD_DAG, load_run, "consume", ti["map_index"])
        for ti in consumers
        if ti["state"] == "success"
    ]
    refresh_tis = api.task_instances(REFRESH_DAG, "~")
    tries = [api.tries(LOAD_DAG, load_run, "consume", ti["map_index"]) for ti in consumers]
    figures = Figures(
        deployment=deployment.name,
        shape=deployment.shape,
        access_lifetime=stand_in.access_lifetime,
        refresh_lifetime=stand_in.refresh_lifetime,
        consumers=len(consumers),
        consumers_succeeded=sum(ti["state"] == "success" for ti in consumers),
        consumer_retries=sum(max(0, ti["try_number"] - 1) for ti in consumers),
        peak_concurrent_consumers=peak_overlap([span(t) for each in tries for t in each]),
        consumer_start_spread_seconds=start_spread(tries),
        consumers_per_host=count_by(results, "host"),
        search_calls=counters["search_requests"],
        min_access_tokens_per_consumer=min((r["access_tokens_used"] for r in results), default=0),
        slowest_call_seconds=max((r["slowest_call_seconds"] for r in results), default=0.0),
        stalled_calls=sum(r["stalled_calls"] for r in results),
        unauthorized_answers=counters["unauthorized"],
        refresh_task_tries=sum(ti["try_number"] for ti in refresh_tis),
        refresh_task_retries=sum(max(0, ti["try_number"] - 1) for ti in refresh_tis),
        refreshes_reported_by_refresh_dag=refreshes_reported(deployment, refresh_tis),
        window_seconds=window_seconds,
        token_endpoint_calls=counters["token_requests"],
        refresh_calls=counters["refresh_token_grants"],
        refresh_token_reuses=counters["refresh_token_reuses"],
        grants_revoked=counters["grants_revoked"],
    )
    return figures, consumers, results


def xcom_value(deployment: Deployment, dag_id: str, run_id: str, task_id: str, map_index: int) -> dict[str, Any]:
    value = deployment.api.xcom(dag_id, run_id, task_id, map_index)
    return json.loads(value) if isinstance(value, str) else value


def wait_for_dags(deployment: Deployment) -> None:
    for dag_id in DAG_IDS:
        wait_for(
            lambda dag_id=dag_id: deployment.api.dag_is_parsed(dag_id),
            what=f"DAG {dag_id} to be parsed",
            timeout=300,
            servers=deployment.servers,
        )


def connection_fields(stand_in: StandInServer, plan: LoadPlan) -> dict[str, Any]:
    return {
        "connection_id": CONN_ID,
        "conn_type": "orangelogic",
        "host": stand_in.url,
        "login": stand_in.client_id,
        "password": stand_in.client_secret,
        "extra": json.dumps({"redirect_uri": stand_in.redirect_uri, "refresh_threshold": plan.refresh_threshold}),
    }


def create_connection(deployment: Deployment, stand_in: StandInServer, plan: LoadPlan) -> None:
    deployment.api.create_connection(connection_fields(stand_in, plan))


def exchange_code(deployment: Deployment, stand_in: StandInServer) -> float:
    """Trigger the exchange DAG with a fresh code; returns when the first pair was stored (monotonic)."""
    api = deployment.api
    api.set_paused(EXCHANGE_DAG, False)
    # The authorization URL is built here, not issued by the deployment: its state cannot be checked.
    conf = {"code": stand_in.authorize_like_a_browser(), "conn_id": CONN_ID, "skip_state_check": True}
    run_id = api.trigger(EXCHANGE_DAG, conf)
    state = wait_for_run(deployment, EXCHANGE_DAG, run_id, timeout=300)
    if state != "success":
        raise AssertionError(f"{EXCHANGE_DAG} run {run_id} ended {state}; see {deployment.control.logs}")
    return time.monotonic()


def wait_for_run(deployment: Deployment, dag_id: str, run_id: str, *, timeout: float) -> str:
    def finished() -> str | None:
        state = deployment.api.dag_run(dag_id, run_id)["state"]
        return state if state in TERMINAL_RUN_STATES else None

    return wait_for(finished, what=f"{dag_id} run {run_id}", timeout=timeout, interval=2, servers=deployment.servers)


def stop_refreshing(deployment: Deployment) -> None:
    """Pause the refresh DAG and wait for its last run, so no refresh races the final checks."""
    api = deployment.api
    api.set_paused(REFRESH_DAG, True)

    def idle() -> bool | None:
        # Only a running run can still refresh: the scheduler never starts a queued run of a paused DAG, and
        # on a busy machine runs queue up behind max_active_runs=1 faster than they finish.
        running = [run for run in api.dag_runs(REFRESH_DAG) if run["state"] == "running"]
        return None if running else True

    wait_for(idle, what=f"{REFRESH_DAG} to go idle", timeout=180, interval=1, servers=deployment.servers)


def refreshes_reported(deployment: Deployment, refresh_tis: list[dict[str, Any]]) -> int:
    """How many refresh task runs say (in their XCom summary) that they called the token endpoint."""
    count = 0
    for ti in refresh_tis:
        if ti["state"] != "success":
            continue
        summary = xcom_value(deployment, REFRESH_DAG, ti["dag_run_id"], ti["task_id"], ti["map_index"])
        count += bool(summary.get("refreshed"))
    return count


HOOK_PRELUDE = """
import json
from airflow_provider_orangelogic.hooks.orangelogic import OrangeLogicHook
hook = OrangeLogicHook({conn_id!r})
"""
STATUS_CHECK = """
print("RESULT=" + json.dumps(hook.token_status()))
"""
# The stored refresh token must be accepted by the strict token endpoint (a spent one would count as
# a reuse there and revoke the grant), and the access token it yields by the Search API.
FINAL_USE = """
stored = hook.token_status()
forced = hook.refresh_tokens(force=True)
items = sum(1 for _ in hook.search("MediaType:Image", page_size=5, max_pages=1))
print("RESULT=" + json.dumps({"stored": stored, "forced_refresh": forced, "search_items": items}))
"""


def hook_outside_task(deployment: Deployment, code: str) -> dict[str, Any]:
    """Run ``code`` with an OrangeLogicHook on the control host, outside any task (as a person would).

    A failure is returned as ``{"error": ...}`` so the figures of the run are still published.
    """
    try:
        result = deployment.control.python_json(HOOK_PRELUDE.format(conn_id=CONN_ID) + code)
    except RuntimeError as err:
        return {"error": str(err).splitlines()[-1]}
    assert isinstance(result, dict)
    return result


def span(task_try: dict[str, Any]) -> tuple[float, float]:
    """When one try ran, in epoch seconds (a try still running has no end yet: it runs until now)."""
    end = task_try["end_date"]
    return (
        datetime.fromisoformat(task_try["start_date"]).timestamp(),
        datetime.fromisoformat(end).timestamp() if end else time.time(),
    )


def peak_overlap(spans: list[tuple[float, float]]) -> int:
    """The largest number of tries that were running at the same moment."""
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    running = peak = 0
    for _, change in events:
        running += change
        peak = max(peak, running)
    return peak


def start_spread(tries: list[list[dict[str, Any]]]) -> float:
    """Seconds between the first and the last consumer's first start: how long Airflow took to start them."""
    starts = [span(min(each, key=lambda t: t["try_number"]))[0] for each in tries if each]
    return max(starts) - min(starts) if starts else 0.0


def count_by(results: list[dict[str, Any]], key: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for result in results:
        counts[result[key]] = counts.get(result[key], 0) + 1
    return counts


def files_containing(folders: list[Path], needles: list[str]) -> list[str]:
    """Files under ``folders`` that contain any of ``needles``; only their paths are returned."""
    encoded = [needle.encode() for needle in needles if needle]
    hits = []
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            data = path.read_bytes()
            if any(needle in data for needle in encoded):
                hits.append(str(path))
    return hits
