"""The stand-in's upload twin is as strict as the reference: chunk boundaries, sizes, MD5, item state."""

from __future__ import annotations

import hashlib
import json

import pytest
import requests

from airflow_provider_orangelogic.api.upload_parts import MultipartBody
from airflow_provider_orangelogic.core import endpoints
from airflow_provider_orangelogic.testing import OrangeLogicStandIn, StandInConfig

TOKEN = "stand-in-upload-token"
A = 131072
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def stand_in():
    with OrangeLogicStandIn(StandInConfig(bearer_tokens=(TOKEN,))) as server:
        yield server


def post(stand_in, path, headers=AUTH, **kwargs) -> requests.Response:
    return requests.post(stand_in.url + path, headers=headers, timeout=10, **kwargs)


def registered(stand_in, size: int) -> str:
    created = post(stand_in, endpoints.MULTIPART_CREATE_TRANSACTION, data={"FolderRecordID": "5"}).json()
    files = json.dumps([{"fileName": "f.bin", "fileSize": size}])
    form = {"TransactionID": created["transactionID"], "files": files}
    answer = post(stand_in, endpoints.MULTIPART_REGISTER_ITEMS, data=form)
    (item,) = answer.json()
    assert (item["status"], item["startposition"], item["requestedFileSize"]) == ("Registered", 0, size)
    return item["uploadItemID"]


def chunk(stand_in, item: str, start: int, end: int, total: int, data: bytes, md5: str | None = None):
    fields = {"md5": md5 if md5 is not None else hashlib.md5(data).hexdigest()}
    body = MultipartBody(fields, "data", "f.bin", content=data)
    path = endpoints.MULTIPART_CHUNK.format(upload_item_id=item)
    headers = {**AUTH, "Content-Type": body.content_type}
    return post(stand_in, path, headers=headers, params={"start": start, "end": end, "totalLength": total}, data=body)


def complete(stand_in, item: str) -> dict:
    return post(stand_in, endpoints.MULTIPART_COMPLETE, data={"UploadItemID": item}).json()


def test_chunks_off_the_boundaries_or_with_a_wrong_md5_are_refused_and_nothing_is_recorded(stand_in):
    size = 2 * A + 10
    item = registered(stand_in, size)
    data = bytes(range(256)) * (A // 256)
    cases = [
        ((1, A, size, data), "start 1 is not a multiple of 131072"),
        ((0, A, size, data + b"x"), "end 131072 must be one less than a multiple of 131072"),
        ((0, A - 1, size, data[:-1]), "carries 131071 bytes, not 131072"),
        ((0, A - 1, size + 1, data), "totalLength"),
        ((2 * A, 2 * A + 10, size, b"x" * 11), "not within the file"),
    ]
    for arguments, reason in cases:
        answer = chunk(stand_in, item, *arguments)
        assert answer.status_code == 400 and reason in answer.json()["error_description"], arguments
    answer = chunk(stand_in, item, 0, A - 1, size, data, md5="0" * 32)
    assert answer.status_code == 400 and "MD5" in answer.json()["error_description"]
    assert chunk(stand_in, "UInope", 0, A - 1, size, data).status_code == 404
    assert stand_in.counters()["chunks_rejected"] == 7 and stand_in.counters()["chunks_received"] == 0


def test_complete_is_incomplete_until_every_byte_arrived_then_success_once_then_already_exists(stand_in):
    size = A + 5
    item = registered(stand_in, size)
    first, last = b"a" * A, b"b" * 5
    assert chunk(stand_in, item, A, A + 4, size, last).status_code == 200  # chunks may come in any order
    assert complete(stand_in, item)["uploadStatus"] == "Incomplete"
    assert chunk(stand_in, item, 0, A - 1, size, first).status_code == 200
    done = complete(stand_in, item)
    assert (done["uploadStatus"], done["assetVersion"], done["duplicateRecordID"]) == ("Success", 0, "")
    again = complete(stand_in, item)
    assert again["uploadStatus"] == "AlreadyExists" and again["recordID"] == done["recordID"]
    (asset,) = stand_in.uploads()["assets"]
    assert asset["versions"][0]["md5"] == hashlib.md5(first + last).hexdigest()


def test_single_call_uploads_need_a_token_a_folder_and_a_file_name_with_its_extension(stand_in):
    body = MultipartBody({}, "file", "x.jpg", content=b"jpeg")
    headers = {**AUTH, "Content-Type": body.content_type}
    params = {"FolderRecordID": "5", "FileName": "x.jpg", "Format": "json"}
    no_token = post(stand_in, endpoints.UPLOAD_NEW_MEDIA, headers={"Content-Type": body.content_type}, params=params)
    assert no_token.status_code == 401
    answer = post(stand_in, endpoints.UPLOAD_NEW_MEDIA, headers=headers, params={**params, "FileName": "x"}, data=body)
    assert answer.status_code == 400 and "has no extension" in answer.json()["error_description"]
    body = MultipartBody({}, "file", "x.jpg", content=b"jpeg")
    answer = post(stand_in, endpoints.UPLOAD_NEW_MEDIA, headers={**AUTH, "Content-Type": body.content_type},
                  params={"FileName": "x.jpg"}, data=body)  # fmt: skip
    assert answer.status_code == 400 and "FolderRecordID is required" in answer.json()["error_description"]
    assert stand_in.counters()["uploads_created"] == 0
