"""Incremental sync run by Airflow: consecutive daily runs land each edited asset once, no gap, no duplicate.

A two-line DAG file calls ``search_to_storage_dag(incremental=True)``; ``airflow dags test`` runs it for two
consecutive days and once more for the first (a backfill rerun). The stand-in's catalogue gives every asset an
``EditDate``, one of them exactly on the midnight between the two windows (the boundary case), and answers the
window clause of ``api/windows.py`` the way the hook sends it.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone

import pytest

from airflow_provider_orangelogic.testing.sandbox import AirflowSandbox
from airflow_provider_orangelogic.testing.stand_in.catalogue import asset, edited_at
from tests.integration.conftest import (
    authorized_stand_in,
)

pytestmark = pytest.mark.integration
DAG_ID = "orangelogic_incremental"
CONN_ID = "orangelogic_incremental"
ASSETS = 3000
BOUNDARY_ASSET = 1440  # edited at 2020-02-07T00:00:00Z exactly
DAG_FILE = f"""\
import pendulum
from airflow_provider_orangelogic.dags import search_to_storage_dag
dag = search_to_storage_dag(dag_id={DAG_ID!r}, conn_id={CONN_ID!r}, incremental=True, page_size=10,
                            start_date=pendulum.datetime(2020, 1, 1, tz="UTC"))
"""


def parse_utc(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    dags = tmp_path_factory.mktemp("incremental_dags")
    (dags / "orangelogic_incremental.py").write_text(DAG_FILE)
    box = AirflowSandbox(tmp_path_factory.mktemp("incremental_home"), dags)
    box.migrate()
    base = tmp_path_factory.mktemp("incremental_landing")
    with authorized_stand_in(box, CONN_ID, catalogue_size=ASSETS):
        results = []
        for logical_date in ("2020-02-07", "2020-02-08", "2020-02-07"):
            box.dags_test(DAG_ID, {"base_path": base.as_uri()}, logical_date=logical_date)
            results.append(latest_return_value(box))
    return {"base": base, "results": results}


def latest_return_value(box: AirflowSandbox) -> dict:
    with sqlite3.connect(box.home / "airflow.db") as db:
        (value,) = db.execute(
            "SELECT value FROM xcom WHERE dag_id = ? AND key = 'return_value' ORDER BY timestamp DESC LIMIT 1",
            (DAG_ID,),
        ).fetchone()
    value = json.loads(value) if isinstance(value, (str, bytes)) else value
    return json.loads(value) if isinstance(value, str) else value


def landed_ids(result: dict) -> list[str]:
    path = result["path"].removeprefix("file://")
    with open(path, encoding="utf-8") as lines:
        return [json.loads(line)["SystemIdentifier"] for line in lines]


def edited_between(start: datetime, end: datetime) -> list[str]:
    return [asset(n)["SystemIdentifier"] for n in range(1, ASSETS + 1) if start <= edited_at(n) < end]


def test_consecutive_runs_cover_adjacent_windows_of_the_data_intervals(runs):
    first, second, _ = runs["results"]
    # `dags test <date>` runs the day that ends at <date> (Airflow infers a manual run's data interval).
    assert first["window"] == {"field": "EditDate", "start": "2020-02-06T00:00:00Z", "end": "2020-02-07T00:00:00Z"}
    assert second["window"] == {"field": "EditDate", "start": "2020-02-07T00:00:00Z", "end": "2020-02-08T00:00:00Z"}
    assert first["path"].endswith("/orangelogic_search/2020-02-06T000000Z.jsonl")  # one file per interval
    assert second["path"].endswith("/orangelogic_search/2020-02-07T000000Z.jsonl")


def test_each_run_lands_exactly_the_assets_edited_in_its_window(runs):
    for result in runs["results"][:2]:
        expected = edited_between(parse_utc(result["window"]["start"]), parse_utc(result["window"]["end"]))
        assert expected, "a window with no edits proves nothing"
        assert landed_ids(result) == expected
        assert result["count"] == len(expected)


def test_no_gap_and_no_duplicate_across_the_two_runs_the_boundary_asset_once(runs):
    first, second, _ = runs["results"]
    one, two = landed_ids(first), landed_ids(second)
    assert not set(one) & set(two)
    assert sorted(one + two) == sorted(
        edited_between(parse_utc("2020-02-06T00:00:00Z"), parse_utc("2020-02-08T00:00:00Z"))
    )
    boundary = asset(BOUNDARY_ASSET)
    assert boundary["EditDate"] == "2020-02-07T00:00:00Z"
    # Half-open windows: an edit exactly at midnight belongs to the later day only.
    assert boundary["SystemIdentifier"] in two and boundary["SystemIdentifier"] not in one


def test_a_backfill_rerun_of_a_window_lands_the_same_assets_in_the_same_file(runs):
    first, _, rerun = runs["results"]
    assert rerun["path"] == first["path"] and rerun["window"] == first["window"]
    assert landed_ids(rerun) == landed_ids(first)
