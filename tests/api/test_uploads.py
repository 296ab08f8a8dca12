"""api/uploads.py against the stand-in over a socket (no Airflow): both upload paths, chunk retries,
throttling, duplicates, and the reference's Incomplete / AlreadyExists answers after a resume."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from airflow_provider_orangelogic.api.session import FixedToken, new_session, send_with_retries
from airflow_provider_orangelogic.api.upload_parts import (
    CHUNK_ALIGNMENT,
    MemoryCheckpoints,
    MultipartBody,
    UploadSource,
    chunk_ranges,
)
from airflow_provider_orangelogic.api.uploads import UploadError, upload_files
from airflow_provider_orangelogic.core.errors import OrangeLogicAPIError
from airflow_provider_orangelogic.core.retry import RetryPolicy
from airflow_provider_orangelogic.testing import OrangeLogicStandIn, StandInConfig
from airflow_provider_orangelogic.testing.stand_in.messages import Request, multipart_form

TOKEN = "upload-test-bearer-token"
CHUNK = 2 * CHUNK_ALIGNMENT
FAST = RetryPolicy(backoff_base=0.01, backoff_max=0.05)


@pytest.fixture
def stand_in():
    with OrangeLogicStandIn(StandInConfig(bearer_tokens=(TOKEN,))) as server:
        yield server


@pytest.fixture
def request_(stand_in):
    session = new_session(FixedToken(TOKEN), base_url=stand_in.url)

    def request(method, endpoint, *, check_response=True, **kwargs):
        response = send_with_retries(session, method, stand_in.url + endpoint, retry=FAST, timeout=30, **kwargs)
        if check_response and not response.ok:
            status = response.status_code
            raise OrangeLogicAPIError(f"{endpoint} answered HTTP {status}: {response.text}", status_code=status)
        return response

    return request


def source(tmp_path: Path, name: str, size: int, seed: int = 0) -> tuple[UploadSource, bytes]:
    content = b"".join(hashlib.sha256(f"{seed}:{n}".encode()).digest() for n in range(size // 32 + 1))[:size]
    path = tmp_path / name
    path.write_bytes(content)
    return UploadSource(name, size, lambda: path.open("rb"), key=f"{path}|{size}", location=str(path)), content


def kept(stand_in, name: str) -> bytes:
    (asset,) = [a for a in stand_in.uploads()["assets"] if a["file_name"] == name]
    return Path(asset["versions"][-1]["path"]).read_bytes()


def receipts(stand_in, name: str) -> dict:
    (item,) = [i for i in stand_in.uploads()["items"] if i["file_name"] == name]
    return {(start, end): count for start, end, count in item["receipts"]}


MULTIPART = {"folder_record_id": "10", "multipart_threshold": 1 << 20, "chunk_size": CHUNK}


# ---- the pieces ----


def test_chunks_start_on_the_boundary_and_the_last_ends_on_the_last_byte():
    assert chunk_ranges(CHUNK * 2 + 5, CHUNK) == [(0, CHUNK - 1), (CHUNK, 2 * CHUNK - 1), (2 * CHUNK, 2 * CHUNK + 4)]
    assert chunk_ranges(1, CHUNK) == [(0, 0)]
    with pytest.raises(ValueError, match=r"multiple of 131072 bytes.*use 131072 or 262144"):
        chunk_ranges(10, 200_000)
    with pytest.raises(ValueError, match="at least one byte"):
        chunk_ranges(0, CHUNK)


def test_a_streamed_body_is_the_multipart_form_the_stand_in_reads(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"\r\n--tricky--\r\n" * 1000)
    fields = {"md5": "abc", "Metadata": '{"a": "b"}'}
    body = MultipartBody(fields, "file", 'we"ird.bin', open_file=lambda: path.open("rb"), size=14000)
    raw = b"".join(iter(body))
    assert len(raw) == len(body)
    read, files = multipart_form(Request("POST", "/", {}, {"Content-Type": body.content_type}, raw, ""))
    assert read == fields and files == {"file": path.read_bytes()}


# ---- both paths ----


def test_small_files_go_in_one_call_each_and_large_ones_in_chunks(stand_in, request_, tmp_path):
    small, small_bytes = source(tmp_path, "small.jpg", 5000)
    large, large_bytes = source(tmp_path, "large.mp4", 5 * CHUNK + 17, seed=1)
    metadata = {"CoreField.Title": "Launch", "Nope.Field": 1}
    results = upload_files(request_, [large, small], metadata=metadata, **MULTIPART)
    assert [r.method for r in results] == ["multipart", "single"]
    assert [r.status for r in results] == ["Success", "Success"]
    assert kept(stand_in, "small.jpg") == small_bytes and kept(stand_in, "large.mp4") == large_bytes
    assert results[0].chunks == 6 and set(receipts(stand_in, "large.mp4").values()) == {1}
    assert results[1].warnings == ["Field 'Nope.Field' does not exist or cannot be imported; it was ignored."]
    assets = {a["file_name"]: a for a in stand_in.uploads()["assets"]}
    assert assets["large.mp4"]["metadata"] == assets["small.jpg"]["metadata"] == {"CoreField.Title": "Launch"}
    assert results[0].record_id == assets["large.mp4"]["record_id"]


def test_a_new_version_of_an_asset(stand_in, request_, tmp_path):
    first, _ = source(tmp_path, "v.jpg", 100)
    (created,) = upload_files(request_, [first], folder_record_id="10")
    second, second_bytes = source(tmp_path / "..", "v2.jpg", 200, seed=9)
    (version,) = upload_files(request_, [second], record_id=created.record_id)
    assert (version.status, version.record_id, version.version) == ("Success", created.record_id, 1)
    assert kept(stand_in, "v.jpg") == second_bytes


def test_a_failed_chunk_is_retried_alone(stand_in, request_, tmp_path):
    large, content = source(tmp_path, "retry.bin", 6 * CHUNK)
    stand_in.add_fault("chunk", "status", 2, status=500)
    (result,) = upload_files(request_, [large], **MULTIPART)
    assert result.status == "Success" and kept(stand_in, "retry.bin") == content
    counters = stand_in.counters()
    assert counters["chunk_requests"] == 6 + 2 and counters["chunks_received"] == 6
    assert set(receipts(stand_in, "retry.bin").values()) == {1}


def test_a_429_storm_slows_the_chunks_down_and_every_chunk_lands_once(stand_in, request_, tmp_path):
    stand_in.configure(data_max_in_flight=2, data_retry_after=0.05, data_latency=0.02)
    large, content = source(tmp_path, "storm.bin", 12 * CHUNK)
    (result,) = upload_files(request_, [large], concurrency=8, **MULTIPART)
    assert result.status == "Success" and kept(stand_in, "storm.bin") == content
    counters = stand_in.counters()
    assert counters["data_429"] > 0 and counters["data_peak_in_flight"] <= 2
    assert set(receipts(stand_in, "storm.bin").values()) == {1}


def test_duplicate_detection_answers_with_the_existing_asset(stand_in, request_, tmp_path):
    stand_in.configure(duplicate_detection="checksum")
    small, _ = source(tmp_path, "dup.jpg", 3000)
    large, _ = source(tmp_path, "dup.mov", 5 * CHUNK)
    first = upload_files(request_, [small, large], **MULTIPART)
    again = upload_files(request_, [small, large], **MULTIPART)
    assert [r.status for r in first] == ["Success", "Success"]
    assert [r.status for r in again] == ["Duplicate", "Duplicate"]
    assert [r.duplicate_record_id for r in again] == [r.record_id for r in first]
    assert len(stand_in.uploads()["assets"]) == 2


# ---- resuming ----


def test_a_failed_run_is_resumed_from_its_checkpoint(stand_in, request_, tmp_path):
    large, content = source(tmp_path, "resume.bin", 10 * CHUNK)
    checkpoints = MemoryCheckpoints()
    stand_in.add_fault("chunk", "status", 50, status=500)  # every attempt of a few chunks fails
    stand_in.configure(data_latency=0.01)
    (failed,) = upload_files(request_, [large], checkpoints=checkpoints, concurrency=1, **MULTIPART)
    assert failed.status == "Failed" and "refused with HTTP 500 after retries" in failed.error
    (state,) = checkpoints.states.values()
    stand_in.clear_faults()

    (result,) = upload_files(request_, [large], checkpoints=checkpoints, **MULTIPART)
    done = len(json.loads(state)["done"])
    assert result.status == "Success" and result.chunks_resumed == done and result.chunks == 10 - done
    assert kept(stand_in, "resume.bin") == content and set(receipts(stand_in, "resume.bin").values()) == {1}
    assert checkpoints.states == {}


def test_a_checkpoint_the_server_disagrees_with_sends_every_chunk_again_once(stand_in, request_, tmp_path):
    large, content = source(tmp_path, "liar.bin", 4 * CHUNK)
    checkpoints = MemoryCheckpoints()
    stand_in.add_fault("chunk", "status", 100, status=500)
    (failed,) = upload_files(request_, [large], checkpoints=checkpoints, **MULTIPART)
    assert failed.status == "Failed"
    stand_in.clear_faults()
    ((key, text),) = checkpoints.states.items()
    state = json.loads(text)
    checkpoints.save(key, {**state, "done": [0, 1, 2, 3]})  # claims chunks the server never got

    (result,) = upload_files(request_, [large], checkpoints=checkpoints, **MULTIPART)
    assert result.status == "Success" and result.chunks == 4 and result.chunks_resumed == 0
    assert kept(stand_in, "liar.bin") == content
    assert stand_in.counters()["multipart_incomplete"] == 1


def test_a_completed_upload_completed_again_is_already_exists_not_a_failure(stand_in, request_, tmp_path):
    class KeepsEverything(MemoryCheckpoints):
        def delete(self, key):  # a run that died between completing and forgetting its checkpoint
            pass

    large, _ = source(tmp_path, "twice.bin", 5 * CHUNK)
    checkpoints = KeepsEverything()
    (first,) = upload_files(request_, [large], checkpoints=checkpoints, **MULTIPART)
    (again,) = upload_files(request_, [large], checkpoints=checkpoints, **MULTIPART)
    assert (first.status, again.status) == ("Success", "AlreadyExists")
    assert again.record_id == first.record_id and again.chunks == 0 and again.chunks_resumed == 5
    assert len(stand_in.uploads()["assets"]) == 1


# ---- bad input ----


def test_bad_options_are_refused_before_anything_is_sent(request_, tmp_path):
    small, _ = source(tmp_path, "x.jpg", 10)
    with pytest.raises(ValueError, match="exactly one of them"):
        upload_files(request_, [small], folder_record_id="1", record_id="2")
    with pytest.raises(ValueError, match="multiple of 131072"):
        upload_files(request_, [small], folder_record_id="1", chunk_size=1_000_000)
    with pytest.raises(ValueError, match="upload_mode must be one of"):
        upload_files(request_, [small], folder_record_id="1", upload_mode="Fast")


def test_a_refused_file_is_recorded_and_the_others_go_on_unless_fail_fast(stand_in, request_, tmp_path):
    bad, _ = source(tmp_path, "no_extension", 10)
    good, _ = source(tmp_path, "fine.jpg", 10)
    results = upload_files(request_, [bad, good], folder_record_id="1")
    assert [r.status for r in results] == ["Failed", "Success"]
    assert "no_extension" in results[0].error and "HTTP 400" in results[0].error
    with pytest.raises(UploadError, match="no_extension"):
        upload_files(request_, [bad, good], folder_record_id="1", fail_fast=True, concurrency=1)
    assert TOKEN not in results[0].error
