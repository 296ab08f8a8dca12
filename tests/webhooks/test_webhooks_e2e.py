"""Webhooks against a real API server, scheduler and DAG processor (tests/webhooks/world.py).

Order matters (one deployment for the module): one accepted event runs the downstream DAG once; refused
deliveries and a replay add nothing, which a later sentinel event proves without waiting on a clock (its run is
the second and last); 1,000 concurrent deliveries, with duplicates among them, give exactly 1,000 asset events;
polling records the same shape of event; the secret is in no log file.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests

from airflow_provider_orangelogic.testing.stand_in.catalogue import edited_at
from tests.e2e.processes import ProcessSet, wait_for
from tests.e2e.scenario import files_containing
from tests.webhooks.world import (
    CREATED_DAG,
    POLL_DAG,
    WebhookWorld,
    event,
    post_with_retries,
    start_world,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500)]
BURST = 1000
DUPLICATES = 200  # of the burst's event IDs, posted a second time at the same moment


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebhookWorld]:
    servers = ProcessSet()
    try:
        yield start_world(tmp_path_factory.mktemp("webhooks"), servers, max_seconds=1400)
    finally:
        servers.stop_all()


def test_accepted_event_runs_the_downstream_dag_once_with_its_extra(world: WebhookWorld) -> None:
    answer = world.post(event("evt-first", identifier="OL0000007", record_id="7"))
    assert answer.status_code == 200, answer.text
    assert answer.json()["outcome"] == "recorded"
    (run,) = world.wait_for_finished_runs(CREATED_DAG, 1)
    assert run["state"] == "success"
    (seen,) = world.fetched(CREATED_DAG, run["dag_run_id"])
    assert seen["extra"] == {
        "event_id": "evt-first",
        "event_type": "AssetCreated",
        "identifier": "OL0000007",
        "record_id": "7",
        "time": "2026-12-07T08:00:00+00:00",
        "source": "webhook",
    }
    assert seen["metadata"]["SystemIdentifier"] == "OL0000007" and seen["metadata"]["RecordID"] == "7"


def test_refused_and_replayed_deliveries_add_no_event_and_no_run(world: WebhookWorld) -> None:
    oversized = event("evt-big") | {"Padding": "x" * 70_000}
    refused = {
        "wrong secret": world.post(event("evt-wrong"), secret="w" * 43),
        "no secret": world.post(event("evt-none"), secret=None),
        "wrong secret in the URL": world.post(event("evt-wrong-q"), secret="q" * 43, in_query=True),
        "unknown connection": world.post(event("evt-conn"), conn_id="no_such_connection"),
        "oversized": world.post(oversized),
        "not JSON": world.post(b"{not json"),
        "a JSON list": world.post(b"[1, 2]"),
        "no event ID": world.post({k: v for k, v in event("x").items() if k != "EventID"}),
        "unknown event type": world.post(event("evt-type", kind="Reticulated")),
    }
    statuses = {name: answer.status_code for name, answer in refused.items()}
    assert statuses == {
        "wrong secret": 401,
        "no secret": 401,
        "wrong secret in the URL": 401,
        "unknown connection": 401,
        "oversized": 413,
        "not JSON": 400,
        "a JSON list": 400,
        "no event ID": 400,
        "unknown event type": 400,
    }
    replay = world.post(event("evt-first", identifier="OL0000007", record_id="7"))
    assert replay.status_code == 200 and replay.json()["outcome"] == "duplicate", replay.text
    # The secret in the URL works too (the form for a subscription that cannot set headers).
    sentinel = world.post(event("evt-sentinel", identifier="OL0000008", record_id="8"), in_query=True)
    assert sentinel.status_code == 200 and sentinel.json()["outcome"] == "recorded", sentinel.text
    runs = world.wait_for_finished_runs(CREATED_DAG, 2)
    # The sentinel's run is the last one: anything queued before it would have run in it or before it.
    assert len(runs) == 2 and all(run["state"] == "success" for run in runs)
    seen = [item["extra"]["event_id"] for run in runs for item in world.fetched(CREATED_DAG, run["dag_run_id"])]
    assert seen == ["evt-first", "evt-sentinel"]
    assert [e["extra"]["event_id"] for e in world.asset_events("created")] == ["evt-first", "evt-sentinel"]


def test_a_thousand_concurrent_events_are_a_thousand_asset_events(world: WebhookWorld) -> None:
    ids = [f"burst-{n:04d}" for n in range(BURST)]
    bodies = [event(i, kind="AssetEdited", identifier=f"OL{n % 900 + 1:07d}") for n, i in enumerate(ids)]
    bodies += bodies[:DUPLICATES]  # the same deliveries again, in the same burst
    local = __import__("threading").local()

    def deliver(body: dict) -> int:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        return post_with_retries(world, body, local.session)

    with ThreadPoolExecutor(max_workers=48) as pool:
        statuses = list(pool.map(deliver, bodies))
    assert statuses == [200] * len(bodies)
    events = world.asset_events("edited")
    assert len(events) == BURST
    assert sorted(e["extra"]["event_id"] for e in events) == ids


def test_polling_records_the_same_events_for_what_was_edited_in_its_window(world: WebhookWorld) -> None:
    before = {e["extra"]["event_id"] for kind in ("created", "edited") for e in world.asset_events(kind)}
    api = world.deployment.api
    # Unpaused, the DAG first runs its latest interval (nothing edited then: the catalogue is from 2020).
    api.set_paused(POLL_DAG, False)
    world.wait_for_finished_runs(POLL_DAG, 1)
    api.set_paused(POLL_DAG, True)
    # Then a run whose window holds some of the catalogue's edit dates.
    end = edited_at(40) + timedelta(seconds=1)
    run_id = api.call(
        "POST",
        f"/api/v2/dags/{POLL_DAG}/dagRuns",
        json={
            "logical_date": end.isoformat(),
            "data_interval_start": (end - timedelta(hours=6)).isoformat(),
            "data_interval_end": end.isoformat(),
            "conf": {},
        },
    )["dag_run_id"]
    api.set_paused(POLL_DAG, False)

    def finished() -> str | None:
        state = api.dag_run(POLL_DAG, run_id)["state"]
        return state if state in ("success", "failed") else None

    state = wait_for(finished, what="the polling run", timeout=300, interval=1, servers=world.deployment.servers)
    api.set_paused(POLL_DAG, True)
    assert [ti["state"] for ti in api.task_instances(POLL_DAG, run_id)] == ["success"]
    assert state == "success"
    counts = world.deployment.api.xcom(POLL_DAG, run_id, "record_changes")
    polled = [
        e["extra"]
        for kind in ("created", "edited")
        for e in world.asset_events(kind)
        if e["extra"]["event_id"] not in before
    ]
    assert counts["created"] + counts["edited"] == len(polled) > 0
    for extra in polled:
        assert set(extra) == {"event_id", "event_type", "identifier", "record_id", "time", "source"}
        assert extra["source"] == "poll" and extra["event_id"] == f"poll:{extra['identifier']}@{extra['time']}"


def test_the_secret_is_in_no_log_file(world: WebhookWorld) -> None:
    time.sleep(1)  # let the servers flush their last lines; not a timing assertion
    hits = files_containing(world.deployment.log_folders, [world.secret])
    assert not hits, f"the webhook secret was found in: {hits[:10]}"
