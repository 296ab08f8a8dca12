"""orangelogic_search_to_storage run by Airflow (`airflow dags test`): 100,000 assets landed in one file.

A stand-in of its own with a 100,000-asset catalogue (no latency: speed is measured in benchmarks/),
a connection authorized the way a person does it, and the example DAG from dags_examples/.
"""

from __future__ import annotations

import gzip
import json
import re
import sqlite3

import pytest

from airflow_provider_orangelogic.dags.search_to_storage import DEFAULT_FIELDS
from airflow_provider_orangelogic.testing import OrangeLogicStandIn
from airflow_provider_orangelogic.testing.stand_in.catalogue import asset
from tests.integration.conftest import (
    add_orangelogic_connection,
    authorize_in_browser,
    hook_call,
    stand_in_config,
)

pytestmark = pytest.mark.integration
DAG_ID = "orangelogic_search_to_storage"
CONN_ID = "orangelogic_landing"
ASSETS = 100_000


@pytest.fixture(scope="module")
def big_stand_in():
    config = stand_in_config(catalogue_size=ASSETS)
    with OrangeLogicStandIn(config) as server:
        yield server


@pytest.fixture(scope="module")
def landing(sandbox, big_stand_in, tmp_path_factory):
    """Authorize the connection, then one DAG run writing every asset, gzipped, 4 pages in flight."""
    add_orangelogic_connection(sandbox, CONN_ID, big_stand_in.url)
    code = authorize_in_browser(hook_call(sandbox, CONN_ID, "get_authorization_url()"))
    hook_call(sandbox, CONN_ID, f"exchange_code({code!r})")
    base = tmp_path_factory.mktemp("landing")
    before = big_stand_in.counters()
    conf = {"conn_id": CONN_ID, "base_path": base.as_uri(), "gzip": True, "concurrency": 4, "page_size": 100}
    run = sandbox.dags_test(DAG_ID, conf)
    after = big_stand_in.counters()
    counters = {name: after[name] - before[name] for name in after}
    counters["search_peak_in_flight"] = after["search_peak_in_flight"]  # a high-water mark, not a count
    return {"base": base, "output": run.stdout + run.stderr, "counters": counters}


def xcom_return_value(sandbox, task_id: str):
    with sqlite3.connect(sandbox.home / "airflow.db") as db:
        (value,) = db.execute(
            "SELECT value FROM xcom WHERE dag_id = ? AND task_id = ? AND key = 'return_value' "
            "ORDER BY timestamp DESC LIMIT 1",
            (DAG_ID, task_id),
        ).fetchone()
    value = json.loads(value) if isinstance(value, (str, bytes)) else value
    return json.loads(value) if isinstance(value, str) else value


def test_the_file_holds_every_asset_of_the_catalogue_record_by_record(landing):
    folder = landing["base"] / "orangelogic_search"
    (landed,) = folder.iterdir()  # one file, no temporary beside it
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}\.jsonl\.gz", landed.name), landed.name
    with gzip.open(landed, "rt", encoding="utf-8") as lines:
        count = 0
        for count, line in enumerate(lines, start=1):
            expected = {name: value for name, value in asset(count).items() if name in DEFAULT_FIELDS}
            assert json.loads(line) == expected, f"line {count}"
    assert count == ASSETS


def test_count_and_path_go_to_xcom(sandbox, landing):
    (landed,) = (landing["base"] / "orangelogic_search").iterdir()
    result = xcom_return_value(sandbox, "search_to_storage")
    assert result["count"] == ASSETS and result["pages"] == ASSETS // 100 and result["gzip"] is True
    assert result["path"] == landed.as_uri() and result["bytes"] == landed.stat().st_size
    assert f"Wrote {ASSETS} asset(s) from {ASSETS // 100} page(s)" in landing["output"]


def test_the_run_stayed_within_its_concurrency_and_sent_no_extra_request(landing):
    counters = landing["counters"]
    assert counters["search_pages_served"] == ASSETS // 100  # TotalCount: no request for page 1001
    # Never more than the 4 pages asked for at once. Whether two requests overlap inside this latency-free
    # stand-in is timing (on a loaded machine it once saw at most 1 at a time), so no lower bound here: that
    # the pages do go out N at a time is shown with controlled latency in tests/api/test_concurrent_search.py.
    assert counters["search_peak_in_flight"] <= 4
    assert re.search(r"up to [1-4] page request\(s\) at once, 0 throttled answer\(s\)", landing["output"])
    assert counters["search_429"] == 0


def test_a_failed_run_leaves_no_file_under_the_final_name(sandbox, big_stand_in, landing, tmp_path):
    big_stand_in.add_fault("search", "slow", count=20, delay=0)  # twenty pages go through, then one is refused
    big_stand_in.add_fault("search", "status", count=1, status=400)
    conf = {"conn_id": CONN_ID, "base_path": tmp_path.as_uri(), "concurrency": 4, "query": "MediaType:Image"}
    run = sandbox.dags_test(DAG_ID, conf, check=False)
    output = run.stdout + run.stderr
    assert re.search(r"Search page \d+ failed: GET /API/search/v4.0/search answered HTTP 400", output), output[-3000:]
    folder = tmp_path / "orangelogic_search"
    assert not folder.exists() or list(folder.iterdir()) == []
