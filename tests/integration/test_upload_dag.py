"""Uploads run by Airflow: files from object storage land in the stand-in byte for byte, and a killed
multi-part upload is resumed by the next run without sending its finished chunks again.

A two-line DAG file calls ``storage_to_orangelogic_dag`` (multi-part from 1 MiB, 256 KiB chunks);
``airflow dags test`` runs it against the stand-in over a socket, with the token pair of a real
authorization in a Variable and the multi-part progress in another.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from airflow_provider_orangelogic.testing import OrangeLogicStandIn
from airflow_provider_orangelogic.testing.sandbox import AirflowSandbox
from tests.integration.conftest import (
    authorized_stand_in,
    latest_xcom,
)

pytestmark = pytest.mark.integration
DAG_ID = "orangelogic_upload"
CONN_ID = "orangelogic_upload"
CHUNK = 2 * 131072
DAG_FILE = f"""\
from airflow_provider_orangelogic.dags import storage_to_orangelogic_dag
dag = storage_to_orangelogic_dag(dag_id={DAG_ID!r}, conn_id={CONN_ID!r}, multipart_threshold=1024 * 1024,
                                 chunk_size={CHUNK})
"""


def payload(size: int, seed: int) -> bytes:
    """Bytes no two chunks share, so a chunk written at the wrong offset cannot go unnoticed."""
    blocks = (hashlib.sha256(f"{seed}-{n}".encode()).digest() for n in range(size // 32 + 1))
    return b"".join(blocks)[:size]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    dags = tmp_path_factory.mktemp("upload_dags")
    (dags / "orangelogic_upload.py").write_text(DAG_FILE)
    box = AirflowSandbox(tmp_path_factory.mktemp("upload_home"), dags)
    box.migrate()
    with authorized_stand_in(box, CONN_ID) as stand_in:
        yield box, stand_in


def upload_conf(source, folder: str, report: str = "", concurrency: int = 3) -> dict:
    return {"source": source.as_uri(), "folder_record_id": folder, "report_path": report, "concurrency": concurrency}


def stored(stand_in: OrangeLogicStandIn, file_name: str) -> dict:
    (found,) = [a for a in stand_in.uploads()["assets"] if a["file_name"] == file_name]
    return found


def test_a_folder_of_small_and_large_files_lands_byte_for_byte(deployment, tmp_path):
    box, stand_in = deployment
    source = tmp_path / "photos"
    source.mkdir()
    files = {"a.jpg": payload(70_000, 1), "b.png": payload(1, 2), "c.mov": payload(3 * 1024 * 1024 + 4321, 3)}
    for name, content in files.items():
        (source / name).write_bytes(content)
    report = tmp_path / "report.jsonl"
    before = stand_in.counters()

    box.dags_test(DAG_ID, upload_conf(source, "7001", report.as_uri()))

    summary = latest_xcom(box, DAG_ID)
    assert (summary["files"], summary["uploaded"], summary["failed"]) == (3, 3, 0)
    by_name = {row["file"]: row for row in summary["results"]}
    assert [by_name[name]["method"] for name in files] == ["single", "single", "multipart"]
    for name, content in files.items():
        asset = stored(stand_in, name)
        (version,) = asset["versions"]
        with open(version["path"], "rb") as kept:
            assert kept.read() == content, f"{name} differs from what was uploaded"
        assert asset["folder_record_id"] == "7001"
        row = by_name[name]
        assert (row["status"], row["identifier"], row["record_id"]) == (
            "Success",
            asset["identifier"],
            asset["record_id"],
        )
        assert row["bytes"] == len(content) and row["version"] == 0
    chunks = -(-len(files["c.mov"]) // CHUNK)
    assert by_name["c.mov"]["chunks"] == chunks
    after = stand_in.counters()
    assert after["chunks_received"] - before["chunks_received"] == chunks  # none sent twice
    assert after["chunks_rejected"] == before["chunks_rejected"]
    assert [json.loads(line)["file"] for line in report.read_text().splitlines()] == ["a.jpg", "b.png", "c.mov"]
    assert not checkpoint_variables(box)  # a completed upload leaves no progress behind


def checkpoint_variables(box: AirflowSandbox) -> dict:
    code = (
        "import json\n"
        "from airflow.models.variable import Variable\n"
        "from airflow.utils.session import create_session\n"
        "with create_session() as session:\n"
        "    keys = [v.key for v in session.query(Variable).filter(Variable.key.like('orangelogic_upload_%'))]\n"
        "print('RESULT=' + json.dumps({key: json.loads(Variable.get(key)) for key in keys}))\n"
    )
    out = box.python(code).stdout
    return json.loads([line for line in out.splitlines() if line.startswith("RESULT=")][-1].removeprefix("RESULT="))


def test_a_killed_multipart_upload_resumes_without_resending_finished_chunks(deployment, tmp_path):
    box, stand_in = deployment
    content = payload(8 * 1024 * 1024 + 999, 4)  # 33 chunks
    source = tmp_path / "master.mxf"
    source.write_bytes(content)
    total = -(-len(content) // CHUNK)
    start = stand_in.counters()["chunks_received"]
    stand_in.configure(data_latency=0.2)  # slow enough to kill it part-way
    conf = upload_conf(source, "7002", concurrency=2)
    command = [sys.executable, "-m", "airflow", "dags", "test", DAG_ID, "--conf", json.dumps(conf)]
    run = subprocess.Popen(
        command, env=box.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 300
        while stand_in.counters()["chunks_received"] - start < 8:
            assert run.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "the upload never started"
            time.sleep(0.05)
        os.killpg(run.pid, signal.SIGKILL)
    finally:
        run.wait(timeout=60)
    stand_in.configure(data_latency=0.0)
    (item,) = [i for i in stand_in.uploads()["items"] if i["file_name"] == "master.mxf"]
    arrived = {(s, e) for s, e, _ in item["receipts"]}
    assert not item["completed"] and 8 <= len(arrived) < total

    (progress,) = checkpoint_variables(box).values()
    recorded = set(progress["done"])
    assert progress["upload_item_id"] == item["upload_item_id"] and recorded
    # Recorded means arrived; at most the chunks in flight at the kill arrived unrecorded.
    ranges = [(n * CHUNK, min((n + 1) * CHUNK, len(content)) - 1) for n in range(total)]
    assert {ranges[n] for n in recorded} <= arrived
    assert len(arrived) - len(recorded) <= 2

    box.dags_test(DAG_ID, conf)  # the same file into the same folder: the same upload, resumed

    summary = latest_xcom(box, DAG_ID)
    (row,) = summary["results"]
    assert row["status"] == "Success" and row["chunks_resumed"] == len(recorded)
    assert row["chunks"] == total - len(recorded)
    (item,) = [i for i in stand_in.uploads()["items"] if i["file_name"] == "master.mxf"]
    receipts = {(s, e): count for s, e, count in item["receipts"]}
    assert item["completed"] and len(receipts) == total
    for number, chunk in enumerate(ranges):
        # Recorded chunks went once; the few unrecorded ones in flight at the kill went at most twice.
        assert receipts[chunk] == 1 if number in recorded else receipts[chunk] <= 2, f"chunk {number}"
    asset = stored(stand_in, "master.mxf")
    with open(asset["versions"][0]["path"], "rb") as kept:
        assert kept.read() == content
    assert row["record_id"] == asset["record_id"] == item["record_id"]
    assert not checkpoint_variables(box)
