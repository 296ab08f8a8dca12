"""OrangeLogicSearchToStorageOperator in-process: JSON Lines, gzip, atomic writes, failures.

The run through Airflow itself (`airflow dags test`, 100,000 assets) is in
tests/integration/test_search_to_storage.py.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from airflow.sdk import ObjectStoragePath
from airflow.sdk.io.store import attach
from fsspec.implementations.memory import MemoryFileSystem

from airflow_provider_orangelogic.api.search import SearchPageError
from airflow_provider_orangelogic.operators.search_to_storage import (
    OrangeLogicSearchToStorageOperator,
    write_json_lines,
)
from airflow_provider_orangelogic.testing.stand_in.catalogue import asset

CONN_ID = "orangelogic_storage_unit"
BEARER = "storage-bearer-token"
FIELDS = ["SystemIdentifier", "Title", "MediaType", "CreateDate", "FileSize"]


@pytest.fixture
def connection(stand_in, monkeypatch):
    stand_in.configure(bearer_tokens=[BEARER], catalogue_size=1234)
    extra = {"auth_mode": "bearer_token"}
    fields = {"conn_type": "orangelogic", "host": stand_in.url, "password": BEARER, "extra": extra}
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(fields))
    return CONN_ID


def operator(path, **kwargs) -> OrangeLogicSearchToStorageOperator:
    kwargs.setdefault("query", "*")
    kwargs.setdefault("fields", FIELDS)
    return OrangeLogicSearchToStorageOperator(task_id="land", path=path, orangelogic_conn_id=CONN_ID, **kwargs)


def records(path: Path) -> list[dict]:
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    return [json.loads(line) for line in data.decode("utf-8").splitlines()]


def files_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# -- the operator ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["assets.jsonl", "assets.jsonl.gz"])
def test_operator_lands_every_asset_in_order(connection, tmp_path, name):
    target = tmp_path / "landing" / "2026-01-01" / name
    result = operator(target.as_uri(), page_size="50", concurrency="4").execute(context={})
    assert result == {
        "path": target.as_uri(),
        "count": 1234,
        "pages": 25,
        "bytes": target.stat().st_size,
        "gzip": name.endswith(".gz"),
        "window": None,
    }
    assert records(target) == [{field: asset(n)[field] for field in FIELDS} for n in range(1, 1235)]
    assert files_in(target.parent) == [name]  # no temporary left beside it
    if name.endswith(".gz"):
        assert target.read_bytes()[:2] == b"\x1f\x8b"


def test_gzip_can_be_forced_either_way(connection, tmp_path):
    plain = tmp_path / "forced.gz"
    operator(plain.as_uri(), gzip=False).execute(context={})
    assert plain.read_bytes().startswith(b'{"SystemIdentifier":"OL0000001"')
    packed = tmp_path / "forced.jsonl"
    operator(packed.as_uri(), gzip=True).execute(context={})
    assert gzip.decompress(packed.read_bytes()) == plain.read_bytes()


def test_same_assets_give_the_same_bytes(connection, tmp_path):
    first, second = tmp_path / "a.jsonl.gz", tmp_path / "b.jsonl.gz"
    operator(first.as_uri(), concurrency=1).execute(context={})
    operator(second.as_uri(), concurrency=8).execute(context={})
    assert first.read_bytes() == second.read_bytes()  # no name or time in the gzip header


def test_a_failed_search_leaves_no_file_under_the_final_name(stand_in, connection, tmp_path):
    target = tmp_path / "out" / "assets.jsonl"
    stand_in.configure(search_latency=0.005)
    stand_in.add_fault("search", "slow", count=5, delay=0)  # let five pages through, then refuse one
    stand_in.add_fault("search", "status", count=1, status=400)
    with pytest.raises(SearchPageError, match=r"Search page \d+ failed"):
        operator(target.as_uri(), page_size=10, concurrency=3).execute(context={})
    assert not target.exists()
    assert files_in(target.parent) == []  # the temporary object is gone too


def test_a_failed_run_keeps_the_previous_file(stand_in, connection, tmp_path):
    target = tmp_path / "assets.jsonl"
    target.write_text('{"previous": "run"}\n')
    stand_in.add_fault("search", "status", count=1, status=400)
    with pytest.raises(SearchPageError):
        operator(target.as_uri()).execute(context={})
    assert target.read_text() == '{"previous": "run"}\n' and files_in(tmp_path) == ["assets.jsonl"]
    operator(target.as_uri()).execute(context={})  # the next good run replaces it
    assert len(records(target)) == 1234


def test_templated_fields_and_bad_arguments(connection, tmp_path):
    assert set(OrangeLogicSearchToStorageOperator.template_fields) >= {"path", "query", "orangelogic_conn_id"}
    with pytest.raises(ValueError, match="has no scheme"):
        operator(str(tmp_path / "x.jsonl")).execute(context={})
    with pytest.raises(ValueError, match="concurrency must be an integer"):
        operator((tmp_path / "x.jsonl").as_uri(), concurrency="four").execute(context={})
    with pytest.raises(ValueError, match="concurrency must be an integer between 1 and 10"):
        operator((tmp_path / "x.jsonl").as_uri(), concurrency=0).execute(context={})
    assert files_in(tmp_path) == []


def test_an_explicit_window_lands_only_what_was_edited_in_it(connection, tmp_path):
    from airflow_provider_orangelogic.testing.stand_in.catalogue import edited_at

    target = tmp_path / "window.jsonl"
    since, before = "2020-01-02T00:00:00Z", "2020-01-03T00:00:00+00:00"
    result = operator(target.as_uri(), modified_since=since, modified_before=before).execute(context={})
    assert result["window"] == {"field": "EditDate", "start": since, "end": "2020-01-03T00:00:00Z"}
    expected = [n for n in range(1, 1235) if "2020-01-02" <= edited_at(n).strftime("%Y-%m-%d") < "2020-01-03"]
    assert [r["SystemIdentifier"] for r in records(target)] == [asset(n)["SystemIdentifier"] for n in expected]
    assert result["count"] == len(expected) > 0


def test_incremental_takes_the_data_interval_and_refuses_an_empty_one(connection, tmp_path):
    import pendulum

    start = pendulum.datetime(2020, 1, 2, tz="UTC")
    target = (tmp_path / "day.jsonl").as_uri()
    day = {"data_interval_start": start, "data_interval_end": start.add(days=1)}
    assert operator(target, incremental=True).execute(context=day)["window"]["end"] == "2020-01-03T00:00:00Z"
    point = {"data_interval_start": start, "data_interval_end": start}  # a cron trigger's single point
    with pytest.raises(ValueError, match="CronDataIntervalTimetable"):
        operator(target, incremental=True).execute(context=point)
    with pytest.raises(ValueError, match="needs a run with a data interval"):
        operator(target, incremental=True).execute(context={})
    with pytest.raises(ValueError, match="give both modified_since and modified_before"):
        operator(target, modified_since="2020-01-02T00:00:00Z").execute(context={})
    with pytest.raises(ValueError, match="must be a date and time"):
        operator(target, modified_since="yesterday", modified_before="2020-01-02T00:00:00Z").execute(context={})
    with pytest.raises(ValueError, match="either incremental=True"):
        operator(target, incremental=True, modified_since="2020-01-02T00:00:00Z")


# -- the writer ----------------------------------------------------------------------------------


def test_writer_failure_midway_leaves_nothing(tmp_path):
    def assets():
        yield from ({"n": n} for n in range(50_000))  # more than one write batch
        raise RuntimeError("the search broke")

    target = ObjectStoragePath((tmp_path / "deep" / "dir" / "assets.jsonl.gz").as_uri())
    with pytest.raises(RuntimeError, match="the search broke"):
        write_json_lines(target, assets(), gzip=True)
    assert not target.exists() and files_in(tmp_path / "deep" / "dir") == []


def test_writer_on_an_object_store_moves_a_temporary_object(tmp_path):
    memory = MemoryFileSystem()
    attach("memory", fs=memory)
    target = ObjectStoragePath("memory://bucket/landing/assets.jsonl")
    assert write_json_lines(target, [{"a": 1}, {"b": "é"}]) == 2
    assert target.read_bytes() == '{"a":1}\n{"b":"é"}\n'.encode()
    assert [Path(p).name for p in memory.ls("/bucket/landing", detail=False)] == ["assets.jsonl"]

    def broken():
        yield {"a": 2}
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_json_lines(target, broken())
    assert target.read_bytes() == '{"a":1}\n{"b":"é"}\n'.encode()
    assert [Path(p).name for p in memory.ls("/bucket/landing", detail=False)] == ["assets.jsonl"]
