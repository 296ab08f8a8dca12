"""Metadata update run by Airflow: ``update_metadata_dag`` through ``airflow dags test`` against the stand-in.

A two-line DAG file calls the factory; one run takes its rows from a JSON Lines file (with a read-only field row
and an unknown field row among good ones), another from a CSV file while the stand-in answers a 429 storm. Every
field is then checked one by one through a DataTable Read over the socket.
"""

from __future__ import annotations

import csv
import json
import sqlite3

import pytest
import requests

from airflow_provider_orangelogic.core import endpoints
from airflow_provider_orangelogic.testing import OrangeLogicStandIn
from airflow_provider_orangelogic.testing.sandbox import AirflowSandbox
from tests.integration.conftest import (
    CLIENT_SECRET,
    authorized_stand_in,
)

pytestmark = pytest.mark.integration
DAG_ID = "orangelogic_metadata_it"
CONN_ID = "orangelogic_metadata"
READER = "metadata-it-reader-token"  # a bearer token the test reads with (never the DAG's)
DAG_FILE = f"""\
from airflow_provider_orangelogic.dags import update_metadata_dag
dag = update_metadata_dag(dag_id={DAG_ID!r}, conn_id={CONN_ID!r})
"""
JSONL_ROWS = [
    {
        "RecordID": "11",
        "fields": {"CoreField.Title": "Red shoe", "CoreField.Keywords": {"op": "++=", "value": ["Shoes", "Red"]}},
    },
    {"SystemIdentifier": "OL0000012", "fields": {"CoreField.CaptionLong": "A long caption " * 30}},  # > 260: POST
    {"RecordID": "13", "fields": {"CoreField.OriginalFileName": "renamed.jpg"}},  # read-only
    {"RecordID": "14", "fields": {"CoreField.Nonexistent": "x", "CoreField.Title": "never written"}},  # unknown
    {"RecordID": "15", "fields": {"Product.SKU": "SKU-15", "CoreField.Keywords": [{"op": "+=", "value": "Product"}]}},
]
CSV_HEADER = ["RecordID", "CoreField.Title", "CoreField.Copyright", "CoreField.Keywords++=", "Product.Colour"]
CSV_ROWS = [
    ["21", "Blue bag", "(c) 2026 Shop", "Bags|Blue", "blue"],
    ["22", "Green hat", "", "Hats", "green"],
    ["23", "Title, with a comma", "(c) Shop", "", ""],
    ["24", "Yellow scarf", "(c) Shop", "Scarves|Yellow", "yellow"],
]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    dags = tmp_path_factory.mktemp("metadata_dags")
    (dags / "orangelogic_metadata_it.py").write_text(DAG_FILE)
    box = AirflowSandbox(tmp_path_factory.mktemp("metadata_home"), dags)
    box.migrate()
    data = tmp_path_factory.mktemp("metadata_rows")
    jsonl = data / "rows.jsonl"
    jsonl.write_text("".join(json.dumps(row) + "\n" for row in JSONL_ROWS))
    csv_file = data / "rows.csv"
    with csv_file.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(CSV_HEADER)
        writer.writerows(CSV_ROWS)
    with authorized_stand_in(box, CONN_ID, catalogue_size=100, bearer_tokens=(READER,)) as stand_in:
        first = box.dags_test(DAG_ID, {"source": jsonl.as_uri()}, check=False)
        jsonl_summary = xcom(box, "summary")
        before_storm = stand_in.counters()
        stand_in.add_fault("datatable", "status", 4, status=429, retry_after=0.2)
        second = box.dags_test(DAG_ID, {"source": csv_file.as_uri(), "concurrency": 3})
        csv_summary = xcom(box, "return_value")
        after = stand_in.counters()
        before_dry = stand_in.counters()
        inline = [{"RecordID": "30", "CoreField.Title": "not sent"}]
        box.dags_test(DAG_ID, {"rows": inline, "dry_run": True})
        dry_summary = xcom(box, "return_value")
        dry_updates = stand_in.counters()["datatable_requests"] - before_dry["datatable_requests"]
        fields = {rid: read(stand_in, rid) for rid in ("11", "12", "13", "14", "15", "21", "22", "23", "24", "30")}
        issued = stand_in.issued_secrets()
    return {
        "first": first,
        "second": second,
        "jsonl": jsonl_summary,
        "csv": csv_summary,
        "fields": fields,
        "storm": after["faults_injected"] - before_storm["faults_injected"],
        "dry": dry_summary,
        "dry_requests": dry_updates,
        "report": (jsonl.parent / "rows.jsonl.report.jsonl"),
        "secrets": [CLIENT_SECRET, *issued],
    }


def xcom(box: AirflowSandbox, key: str) -> dict:
    with sqlite3.connect(box.home / "airflow.db") as db:
        (value,) = db.execute(
            "SELECT value FROM xcom WHERE dag_id = ? AND key = ? ORDER BY timestamp DESC LIMIT 1", (DAG_ID, key)
        ).fetchone()
    value = json.loads(value) if isinstance(value, (str, bytes)) else value
    return json.loads(value) if isinstance(value, str) else value


def read(stand_in: OrangeLogicStandIn, record_id: str) -> dict:
    """The asset as a DataTable Read returns it, over the socket."""
    response = requests.get(
        stand_in.url + endpoints.DATATABLE + "Documents.All.Default:Read",
        params={"RecordID": record_id, "format": "json"},
        headers={"Authorization": f"Bearer {READER}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    answer = response.json()["APIResponse"]
    assert answer["Code"] == "Success"
    (item,) = answer["Items"]
    return item


def test_the_jsonl_run_lands_the_good_rows_field_by_field(runs):
    fields = runs["fields"]
    assert fields["11"]["CoreField.Title"] == "Red shoe"
    assert fields["11"]["CoreField.Keywords"].split("|") == ["Shoes", "Red"]
    assert fields["12"]["CoreField.CaptionLong"] == "A long caption " * 30  # stripped of nothing, sent as POST
    assert fields["15"]["Product.SKU"] == "SKU-15"
    assert fields["15"]["CoreField.Keywords"] == "Product"


def test_a_read_only_and_an_unknown_field_are_reported_by_row_and_name_and_the_task_fails_at_the_end(runs):
    assert runs["first"].returncode != 0 or "failed" in (runs["first"].stdout + runs["first"].stderr).lower()
    summary = runs["jsonl"]
    assert (summary["total"], summary["ok"], summary["failed"], summary["skipped"]) == (5, 3, 2, 0)
    failures = {f["row"]: f for f in summary["failures"]}
    assert failures[3]["key"] == "RecordID=13" and failures[3]["field"] == "CoreField.OriginalFileName"
    assert "read-only" in failures[3]["error"] and "Row 3" in failures[3]["error"]
    assert failures[4]["key"] == "RecordID=14" and failures[4]["field"] == "CoreField.Nonexistent"
    assert "Row 4" in failures[4]["error"] and "CoreField.Nonexistent" in failures[4]["error"]
    # Nothing of either row was written: the read-only row was never sent, the unknown-field call wrote nothing.
    assert runs["fields"]["13"].get("CoreField.OriginalFileName") is None
    assert runs["fields"]["14"]["CoreField.Title"] == "Asset 14"


def test_the_report_has_one_line_per_row(runs):
    lines = [json.loads(line) for line in runs["report"].read_text().splitlines()]
    assert [line["row"] for line in lines] == [1, 2, 3, 4, 5]
    assert [line["status"] for line in lines] == ["ok", "ok", "failed", "failed", "ok"]


def test_the_csv_run_survives_a_429_storm_and_lands_every_field(runs):
    assert runs["storm"] == 4
    summary = runs["csv"]
    assert (summary["total"], summary["ok"], summary["failed"]) == (4, 4, 0)
    assert summary["throttled"] == 4
    fields = runs["fields"]
    for record_id, title, copyright_, keywords, colour in CSV_ROWS:
        item = fields[record_id]
        assert item["CoreField.Title"] == title
        # Blank cells are left alone (skip_blank): the field is not written at all.
        assert item.get("CoreField.Copyright") == (copyright_ or None)
        assert item.get("CoreField.Keywords") == (keywords or None)
        assert item.get("Product.Colour") == (colour or None)


def test_no_secret_reaches_xcom(runs):
    text = json.dumps([runs["jsonl"], runs["csv"]])
    for secret in runs["secrets"]:
        assert secret not in text


def test_a_dry_run_of_inline_rows_sends_nothing_and_shows_the_calls(runs):
    summary = runs["dry"]
    assert runs["dry_requests"] == 0 and summary["dry_run"] is True and summary["source"] == "rows"
    (call,) = summary["calls"]
    assert call["method"] == "POST" and call["path"].endswith("Documents.All.Default:Update")
    assert ["CoreField.Title:", "not sent"] in call["params"]
    assert runs["fields"]["30"]["CoreField.Title"] == "Asset 30"
