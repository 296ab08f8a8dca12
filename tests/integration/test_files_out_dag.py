"""Files out run by Airflow: ``airflow dags test`` exports assets in two formats from the stand-in, checked against
the manifest and against what the stand-in serves, with an expired link and an on-demand 404 recovered and a failed
item recorded while the rest land.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from airflow_provider_orangelogic.testing.sandbox import AirflowSandbox
from airflow_provider_orangelogic.testing.stand_in.catalogue import asset
from airflow_provider_orangelogic.testing.stand_in.files import rendition_blocks, rendition_size
from tests.integration.conftest import (
    authorized_stand_in,
)

pytestmark = pytest.mark.integration
DAG_ID = "orangelogic_files_out"
CONN_ID = "orangelogic_files_out"
# 1 Image, 2 Video (TR1 generated on demand), 3 Audio (no TR1: the failed item), 5 Image, 6 Video; by record ID
# and by identifier, one twice.
TARGETS = ["1", "OL0000002", "3", "5", "OL0000006", "1"]
FORMATS = ["TRX", "TR1"]
DAG_FILE = f"""\
from airflow_provider_orangelogic.dags import orangelogic_to_storage_dag
dag = orangelogic_to_storage_dag(dag_id={DAG_ID!r}, conn_id={CONN_ID!r}, identifiers={TARGETS!r}, formats={FORMATS!r},
                                 concurrency=3)
"""


def served_sha256(number: int, fmt: str) -> str:
    size = rendition_size(str(number), fmt, asset(number)["FileSize"])
    digest = hashlib.sha256()
    for block in rendition_blocks(str(number), fmt, size):
        digest.update(block)
    return digest.hexdigest()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    dags = tmp_path_factory.mktemp("files_out_dags")
    (dags / "orangelogic_files_out.py").write_text(DAG_FILE)
    box = AirflowSandbox(tmp_path_factory.mktemp("files_out_home"), dags)
    box.migrate()
    base = tmp_path_factory.mktemp("files_out_landing")
    with authorized_stand_in(box, CONN_ID, catalogue_size=20, on_demand_pending=2) as stand_in:
        before = stand_in.counters()
        stand_in.add_fault("download", "expired_link", count=1)  # the first download finds its link expired
        result = box.dags_test(DAG_ID, {"base_path": base.as_uri()}, logical_date="2026-12-01")
        after = stand_in.counters()
    with sqlite3.connect(box.home / "airflow.db") as db:
        (value,) = db.execute(
            "SELECT value FROM xcom WHERE dag_id = ? AND key = 'return_value' ORDER BY timestamp DESC LIMIT 1",
            (DAG_ID,),
        ).fetchone()
    value = json.loads(value) if isinstance(value, (str, bytes)) else value
    summary = json.loads(value) if isinstance(value, str) else value
    counters = {name: after[name] - before.get(name, 0) for name in after}
    output = result.stdout + result.stderr
    output += "".join(p.read_text(errors="replace") for p in box.log_folder.rglob("*") if p.is_file())
    return {"summary": summary, "counters": counters, "output": output, "base": base}


def manifest_rows(summary: dict) -> list[dict]:
    path = Path(summary["manifest"].removeprefix("file://"))
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_every_exported_file_is_byte_for_byte_what_the_stand_in_serves(run):
    summary = run["summary"]
    rows = [row for row in manifest_rows(summary) if row["status"] == "ok"]
    expected = {(n, fmt) for n in (1, 2, 3, 5, 6) for fmt in FORMATS} - {(3, "TR1")}
    assert {(int(row["record_id"]), row["format"]) for row in rows} == expected
    for row in rows:
        number = int(row["record_id"])
        assert row["identifier"] == f"OL{number:07d}"
        assert row["sha256"] == served_sha256(number, row["format"])
        landed = Path(row["path"].removeprefix("file://"))
        assert landed.name == f"{row['identifier']}_{row['format']}{landed.suffix}" and landed.suffix
        assert (
            landed.stat().st_size
            == row["bytes"]
            == rendition_size(str(number), row["format"], asset(number)["FileSize"])
        )
        assert hashlib.sha256(landed.read_bytes()).hexdigest() == row["sha256"]
    assert summary["files"] == len(expected) and summary["bytes"] == sum(row["bytes"] for row in rows)
    assert "/orangelogic_files/2026-12-01" in summary["destination"]
    # No temporary object left behind.
    assert not [p for p in run["base"].rglob("*.tmp")]


def test_the_failed_item_is_recorded_while_the_rest_land(run):
    summary = run["summary"]
    failed = [row for row in manifest_rows(summary) if row["status"] != "ok"]
    assert [(row["record_id"], row["format"]) for row in failed] == [("3", "TR1")]
    assert "not available" in failed[0]["error"] and failed[0]["path"] is None
    assert summary["failed"] == 1 and summary["failures"][0]["identifier"] == "OL0000003"


def test_an_expired_link_and_an_on_demand_404_were_recovered_by_new_links(run):
    summary, counters = run["summary"], run["counters"]
    assert counters["faults_injected"] == 1  # the expired link
    assert counters["download_404_pending"] == 4  # TR1 of the two videos, twice each, until generated
    # One new link per 403/404.
    assert summary["links_renewed"] == 5
    rows = {(row["record_id"], row["format"]): row for row in manifest_rows(summary)}
    assert rows[("2", "TR1")]["attempts"] == 3 and rows[("6", "TR1")]["attempts"] == 3


def test_downloads_never_carry_the_bearer_token_and_no_url_reaches_xcom_or_logs(run):
    assert run["counters"]["download_with_authorization"] == 0
    # Nine files served; one more request met the expired link, four the renditions still being generated.
    assert run["counters"]["download_served"] == 9
    assert run["counters"]["download_requests"] == 9 + 1 + 4
    manifest_text = Path(run["summary"]["manifest"].removeprefix("file://")).read_text()
    logs = run["output"]
    assert "asking for a new link" in logs  # the task's log is there
    for text in (json.dumps(run["summary"]), logs, manifest_text):
        assert "Signature=" not in text and "Expires=" not in text
