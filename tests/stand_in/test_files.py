"""The presigned-links twin over a socket: batch answers, signatures, expiry, on-demand 404, streaming."""

from __future__ import annotations

import hashlib
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from airflow_provider_orangelogic.core import endpoints
from airflow_provider_orangelogic.testing import OrangeLogicStandIn, StandInConfig
from airflow_provider_orangelogic.testing.stand_in.catalogue import asset
from airflow_provider_orangelogic.testing.stand_in.files import parse_validity, rendition_blocks, rendition_size
from tests.stand_in.helpers import TIMEOUT

BEARER = "files-bearer-token"


@pytest.fixture
def files() -> OrangeLogicStandIn:
    with OrangeLogicStandIn(StandInConfig(bearer_tokens=(BEARER,), catalogue_size=40)) as server:
        yield server


def links(standin: OrangeLogicStandIn, token: str | None = BEARER, **body) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(standin.url + endpoints.PRESIGNED_LINKS, json=body, headers=headers, timeout=TIMEOUT)


def link(standin: OrangeLogicStandIn, record_id: str, fmt: str, **body) -> str:
    answer = links(standin, RecordIDs=[record_id], Formats=[fmt], **body)
    assert answer.status_code == 200, answer.text
    (entry,) = answer.json()["items"][0]["links"]
    assert entry["error"] is None, entry
    return entry["url"]


def test_a_batch_answers_one_item_per_record_id_with_a_link_per_format_and_errors(files):
    answer = links(files, RecordIDs=["1", "3", "999"], Formats=["TRX", "TR1"], ValidityDuration="1h")
    assert answer.status_code == 200
    one, three, missing = answer.json()["items"]
    assert one["identifier"] == "OL0000001" and [e["format"] for e in one["links"]] == ["TRX", "TR1"]
    assert all(e["url"].startswith(files.url + "/_files/1/") for e in one["links"])
    assert three["links"][0]["url"] and "not available" in three["links"][1]["error"]  # Audio has no TR1
    assert missing["error"] and missing["links"] == []
    assert files.counters()["links_requests"] == 1 and files.counters()["links_issued"] == 3


def test_links_need_the_bearer_token_and_a_sane_request(files):
    assert links(files, token=None, RecordIDs=["1"]).status_code == 401
    assert links(files, token="wrong", RecordIDs=["1"]).status_code == 401
    assert links(files, RecordIDs=[]).status_code == 400
    assert links(files, RecordIDs=["1"], ValidityDuration="10 minutes").status_code == 400
    form = requests.post(
        files.url + endpoints.PRESIGNED_LINKS,
        data={"recordids": "1,2", "formats": '["TR4"]'},
        headers={"Authorization": f"Bearer {BEARER}"},
        timeout=TIMEOUT,
    )
    assert form.status_code == 200 and len(form.json()["items"]) == 2


def test_a_download_streams_the_deterministic_content_without_bearer_auth(files):
    url = link(files, "1", "TRX")
    answer = requests.get(url, stream=True, timeout=TIMEOUT)
    assert answer.status_code == 200
    size = asset(1)["FileSize"]
    assert int(answer.headers["Content-Length"]) == size
    got = hashlib.sha256()
    for block in answer.iter_content(1 << 16):
        got.update(block)
    assert got.hexdigest() == hashlib.sha256(b"".join(rendition_blocks("1", "TRX", size))).hexdigest()
    assert files.counters()["download_requests"] == 1 and files.counters()["download_bytes_served"] == size
    # Same asset and format, same bytes; another format, other bytes.
    assert requests.get(link(files, "1", "TR4"), timeout=TIMEOUT).content == b"".join(
        rendition_blocks("1", "TR4", rendition_size("1", "TR4", size))
    )


def test_a_download_carrying_an_authorization_header_is_refused_as_cloud_storage_does(files):
    answer = requests.get(link(files, "1", "TR4"), headers={"Authorization": f"Bearer {BEARER}"}, timeout=TIMEOUT)
    assert answer.status_code == 400 and b"Only one auth mechanism" in answer.content
    assert files.counters()["download_with_authorization"] == 1


def test_a_tampered_link_is_403(files):
    url = link(files, "1", "TR4")
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    for tampered in (
        f"{files.url}{parts.path.replace('/1/', '/5/')}?{parts.query}",  # another asset
        f"{files.url}{parts.path}?{urlencode({**query, 'Expires': str(float(query['Expires']) + 3600)})}",
        f"{files.url}{parts.path}?{urlencode({**query, 'Signature': '0' * 64})}",
        f"{files.url}{parts.path}",
    ):
        answer = requests.get(tampered, timeout=TIMEOUT)
        assert answer.status_code == 403 and b"SignatureDoesNotMatch" in answer.content
    assert requests.get(url, timeout=TIMEOUT).status_code == 200


def test_a_link_expires_after_its_validity(files):
    files.configure(link_validity=0.2)
    url = link(files, "1", "TR4")  # no ValidityDuration: the configured default
    time.sleep(0.5)
    answer = requests.get(url, timeout=TIMEOUT)
    assert answer.status_code == 403 and b"Request has expired" in answer.content
    assert files.counters()["download_403"] == 1
    assert parse_validity("1d2h3m") == 93780 and parse_validity("10m") == 600


def test_the_expired_link_fault_answers_403_once(files):
    url = link(files, "1", "TR4")
    files.add_fault("download", "expired_link")
    first = requests.get(url, timeout=TIMEOUT)
    assert first.status_code == 403 and b"Request has expired" in first.content
    assert requests.get(url, timeout=TIMEOUT).status_code == 200


def test_an_on_demand_format_answers_404_until_generated(files):
    files.configure(on_demand_pending=2)
    url = link(files, "2", "TR1")  # asset 2 is a Video: TR1 is generated on demand
    assert [requests.get(url, timeout=TIMEOUT).status_code for _ in range(3)] == [404, 404, 200]
    assert files.counters()["download_404_pending"] == 2
    # Without GenerateIfNeeded, a format not generated yet is an error in the answer, not a link.
    answer = links(files, RecordIDs=["6"], Formats=["TR1"], GenerateIfNeeded=False)
    assert "not been generated" in answer.json()["items"][0]["links"][0]["error"]


def test_429_storms_on_links_and_downloads(files):
    files.add_fault("links", "status", status=429, retry_after=1)
    assert links(files, RecordIDs=["1"]).status_code == 429
    url = link(files, "1", "TR4")
    files.add_fault("download", "status", status=503)
    assert requests.get(url, timeout=TIMEOUT).status_code == 503
    assert requests.get(url, timeout=TIMEOUT).status_code == 200


def test_an_uploaded_assets_original_is_its_uploaded_file(files, tmp_path):
    original = tmp_path / "photo.png"
    original.write_bytes(b"\x89PNG" + bytes(range(256)) * 300)
    content = original.read_bytes()
    service = files._service
    with service.lock:
        uploaded = service.assets.add_asset("7", "photo.png", original)
    url = link(files, uploaded.record_id, "TRX")
    assert url.split("?")[0].endswith(f"{uploaded.identifier}_TRX.png")
    assert requests.get(url, timeout=TIMEOUT).content == content
