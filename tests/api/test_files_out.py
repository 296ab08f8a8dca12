"""api/files_out.py: the pieces one by one, and export_files against an in-process stand-in (a real socket)."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from airflow_provider_orangelogic.api.files_out import (
    FilesOutError,
    LinkEndpoint,
    LocalDirectory,
    check_name_template,
    export_files,
    format_validity,
    new_download_session,
    parse_links,
    safe_url,
)
from airflow_provider_orangelogic.api.session import FixedToken, new_session, send_with_retries
from airflow_provider_orangelogic.core.retry import RetryPolicy
from airflow_provider_orangelogic.testing import OrangeLogicStandIn, StandInConfig
from airflow_provider_orangelogic.testing.stand_in.catalogue import asset
from airflow_provider_orangelogic.testing.stand_in.files import rendition_blocks, rendition_size

BEARER = "files-out-token"
FAST = RetryPolicy(backoff_base=0.01, backoff_max=0.05)


def test_validity_is_written_as_the_reference_does():
    assert format_validity(600) == "0d0h10m"
    assert format_validity(timedelta(days=1, hours=2, minutes=3)) == "1d2h3m"
    assert format_validity(5) == "0d0h1m"  # at least a minute
    assert format_validity("2h") == "2h"
    with pytest.raises(ValueError):
        format_validity(0)


def test_a_safe_url_drops_the_signature_and_user_info():
    assert safe_url("https://u:p@bucket.s3.amazonaws.com:8443/a/b.jpg?X-Amz-Signature=abc") == (
        "https://bucket.s3.amazonaws.com:8443/a/b.jpg"
    )


@pytest.mark.parametrize(
    "payload",
    [
        {"items": [{"recordID": "1", "links": [{"format": "trx", "url": "u1"}, {"format": "TR1", "error": "no"}]}]},
        {"Items": [{"RecordID": 1, "Links": {"TRX": "u1", "TR1": {"URL": None, "Error": "no"}}}]},
        {"APIResponse": {"Items": [{"recordId": "1", "links": {"TRX": {"url": "u1"}, "TR1": {"error": "no"}}}]}},
        [{"RecordID": "1", "links": [{"Format": "TRX", "Link": "u1"}, {"Format": "TR1", "ErrorMessage": "no"}]}],
    ],
)
def test_links_answers_are_read_leniently(payload):
    assert parse_links(payload) == {"1": {"TRX": ("u1", None), "TR1": (None, "no")}}


def test_an_item_error_and_a_shapeless_answer():
    assert parse_links({"items": [{"recordID": "9", "links": [], "error": "Asset 9 not found."}]}) == {
        "9": {"": (None, "Asset 9 not found.")}
    }
    with pytest.raises(ValueError):
        parse_links({"whatever": 1})


def test_name_templates_are_checked():
    check_name_template("{format}/{identifier}{ext}")
    with pytest.raises(ValueError, match="identifier"):
        check_name_template("{name}{ext}")


def test_the_download_session_sends_no_authorization_even_from_netrc(tmp_path, monkeypatch):
    (tmp_path / ".netrc").write_text("machine example.invalid login user password secret\n")
    monkeypatch.setenv("NETRC", str(tmp_path / ".netrc"))
    session = new_download_session()
    prepared = session.prepare_request(requests.Request("GET", "https://example.invalid/x?Signature=1"))
    prepared = session.auth(prepared)
    assert "Authorization" not in prepared.headers and session.verify is True


def test_local_directory_writes_atomically(tmp_path):
    destination = LocalDirectory(tmp_path)
    with pytest.raises(RuntimeError), destination.open("a/b.bin") as out:
        out.write(b"half")
        raise RuntimeError("broken")
    assert not list(tmp_path.rglob("*.bin")) and not list(tmp_path.rglob("*.tmp"))
    with destination.open("a/b.bin") as out:
        out.write(b"whole")
    assert (tmp_path / "a" / "b.bin").read_bytes() == b"whole" and not list(tmp_path.rglob("*.tmp"))


@pytest.fixture
def standin():
    with OrangeLogicStandIn(StandInConfig(bearer_tokens=(BEARER,), catalogue_size=60, on_demand_pending=1)) as server:
        yield server


@pytest.fixture
def request_(standin):
    session = new_session(FixedToken(BEARER), base_url=standin.url)

    def request(method, endpoint, **kwargs):
        return send_with_retries(session, method, standin.url + endpoint, retry=FAST, timeout=10, **kwargs)

    yield request
    session.close()


def served(number: int, fmt: str) -> bytes:
    return b"".join(rendition_blocks(str(number), fmt, rendition_size(str(number), fmt, asset(number)["FileSize"])))


def rows(directory: Path) -> list[dict]:
    return [json.loads(line) for line in (directory / "manifest.jsonl").read_text().splitlines()]


def test_export_of_search_items_with_md5_and_a_folder_template(standin, request_, tmp_path):
    items = [{"RecordID": str(n), "SystemIdentifier": f"OL{n:07d}", "Title": f"Asset {n}"} for n in (1, 5, 9)]
    summary = export_files(
        request_, items, destination=LocalDirectory(tmp_path), formats=["tr4", "TR7"], checksum="md5",
        file_name="{format}/{identifier}{ext}", concurrency=4, retry=FAST,
    )  # fmt: skip
    assert (summary.files, summary.failed, summary.assets) == (6, 0, 3)
    for row in rows(tmp_path):
        content = served(int(row["record_id"]), row["format"])
        assert Path(row["path"]).read_bytes() == content and row["md5"] == hashlib.md5(content).hexdigest()
        assert Path(row["path"]).parent.name == row["format"]
    assert standin.counters()["links_requests"] == 1  # one batch


def test_429_storms_lower_the_pace_and_every_file_still_lands(standin, request_, tmp_path):
    # Audio assets (n % 4 == 3) have no TR4: left out.
    standin.add_fault("links", "status", status=429, retry_after=0)
    standin.add_fault("download", "status", count=3, status=503)
    summary = export_files(
        request_, [str(n) for n in range(1, 27) if n % 4 != 3], destination=LocalDirectory(tmp_path), formats=["TR4"],
        concurrency=4, batch_size=7, retry=FAST,
    )  # fmt: skip
    assert summary.files == 20 and summary.failed == 0 and summary.throttled == 4
    assert standin.counters()["links_requests"] == 1 + 3  # three batches, one throttled once


def test_a_link_renewal_gives_up_after_link_attempts(standin, request_, tmp_path):
    standin.add_fault("download", "expired_link", count=10)
    summary = export_files(
        request_, ["1", "5"], destination=LocalDirectory(tmp_path), formats=["TR4"], link_attempts=2, retry=FAST,
        concurrency=1,
    )  # fmt: skip
    assert summary.files == 0 and summary.failed == 2
    assert all("gave up after 2 attempt(s)" in row["error"] and row["attempts"] == 2 for row in rows(tmp_path))
    assert "Signature" not in (tmp_path / "manifest.jsonl").read_text()


def test_fail_fast_stops_at_the_first_failure_after_writing_the_manifest(standin, request_, tmp_path):
    with pytest.raises(FilesOutError, match="OL0000003 TR1"):
        export_files(
            request_, ["3", *map(str, range(10, 40))], destination=LocalDirectory(tmp_path), formats=["TR1"],
            fail_fast=True, batch_size=1, concurrency=1, retry=FAST,
        )  # fmt: skip
    assert len(rows(tmp_path)) < 31


def test_unknown_identifiers_and_name_collisions_are_recorded(standin, request_, tmp_path):
    summary = export_files(
        request_, ["OL0000001", "OL9999999", "5"], destination=LocalDirectory(tmp_path), formats=["TR4"],
        file_name="same{ext}", concurrency=1, retry=FAST,
    )  # fmt: skip
    errors = sorted(row["error"] or "" for row in rows(tmp_path))
    assert summary.files == 1 and summary.failed == 2
    assert any("no asset with SystemIdentifier 'OL9999999'" in e for e in errors)
    assert any("gives 'same.jpg' to two files" in e for e in errors)


def test_form_encoding_of_the_links_call(standin, request_, tmp_path):
    summary = export_files(
        request_, ["1"], destination=LocalDirectory(tmp_path), links=LinkEndpoint(encoding="form"), retry=FAST
    )
    assert summary.files == 1
