"""The stand-in's DataTable twin over a real socket: its strictness is what the client is tested against."""

from __future__ import annotations

import pytest
import requests

from airflow_provider_orangelogic.core import endpoints
from airflow_provider_orangelogic.testing import OrangeLogicStandIn, StandInConfig

TOKEN = "datatable-test-token"
TIMEOUT = 10


@pytest.fixture
def standin():
    with OrangeLogicStandIn(StandInConfig(bearer_tokens=(TOKEN,), catalogue_size=50)) as server:
        yield server


def call(standin, target: str, method: str = "POST", *, params=None, data=None, headers=None, token=TOKEN):
    auth = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.request(
        method,
        standin.url + endpoints.DATATABLE + target,
        params=params,
        data=data,
        headers={**auth, **(headers or {})},
        timeout=TIMEOUT,
    )


def read(standin, record_id: str) -> dict:
    response = call(standin, "Documents.All.Default:Read", "GET", params={"RecordID": record_id})
    assert response.status_code == 200, response.text
    (item,) = response.json()["APIResponse"]["Items"]
    return item


def update(standin, *pairs, target="Documents.All.Default:Update", method="POST"):
    kwargs = {"data": list(pairs)} if method == "POST" else {"params": list(pairs)}
    return call(standin, target, method, **kwargs)


def test_the_four_operators_on_pipe_separated_keywords(standin):
    assert (
        update(standin, ("RecordID", "3"), ("CoreField.Keywords:", "Product|Studio")).json()["APIResponse"]["Code"]
        == "Success"
    )
    assert read(standin, "3")["CoreField.Keywords"] == "Product|Studio"
    update(standin, ("RecordID", "3"), ("CoreField.Keywords+", "Archive"))
    update(standin, ("RecordID", "3"), ("CoreField.Keywords++", "Brand-new|Product"))
    update(standin, ("RecordID", "3"), ("CoreField.Keywords-", "Studio"))
    assert read(standin, "3")["CoreField.Keywords"] == "Product|Archive|Brand-new"
    # ++= created the tag: += accepts it from now on, on another asset.
    assert (
        update(standin, ("RecordID", "4"), ("CoreField.Keywords+", "brand-new")).json()["APIResponse"]["Code"]
        == "Success"
    )
    assert read(standin, "4")["CoreField.Keywords"] == "Brand-new"


def test_add_refuses_an_unknown_tag_with_a_200_that_is_not_a_success_and_writes_nothing(standin):
    response = update(standin, ("RecordID", "5"), ("CoreField.Title:", "t"), ("CoreField.Keywords+", "Nope"))
    assert response.status_code == 200
    answer = response.json()["APIResponse"]
    assert answer["Code"] != "Success" and answer["Errors"][0]["Field"] == "CoreField.Keywords"
    assert read(standin, "5")["CoreField.Title"] == "Asset 5"
    assert standin.counters()["datatable_rejected"] == 1


def test_an_unknown_field_is_reported_by_name_and_nothing_is_written(standin):
    response = update(standin, ("RecordID", "6"), ("CoreField.Title:", "t"), ("CoreField.Nope:", "x"))
    answer = response.json()["APIResponse"]
    assert response.status_code == 200 and answer["Code"] == "InvalidField"
    assert answer["Errors"] == [{"Field": "CoreField.Nope", "Message": "unknown field CoreField.Nope"}]
    assert read(standin, "6")["CoreField.Title"] == "Asset 6"


def test_read_only_fields_are_silently_not_updated(standin):
    standin.configure(read_only_fields=("CoreField.Copyright", "CreateDate"))
    response = update(
        standin, ("RecordID", "7"), ("CoreField.Copyright:", "(c)"), ("CreateDate:", "2000"), ("CoreField.Title:", "t")
    )
    assert response.json()["APIResponse"]["Code"] == "Success"
    item = read(standin, "7")
    assert (
        "CoreField.Copyright" not in item and item["CoreField.CreateDate"] != "2000" and item["CoreField.Title"] == "t"
    )
    assert standin.counters()["datatable_read_only_ignored"] == 2


def test_a_get_url_over_260_characters_is_refused_with_403_and_the_same_as_post_lands(standin):
    long_title = "x" * 240
    assert update(standin, ("RecordID", "8"), ("CoreField.Title:", long_title), method="GET").status_code == 403
    assert standin.counters()["datatable_url_too_long"] == 1
    assert update(standin, ("RecordID", "8"), ("CoreField.Title:", long_title)).status_code == 200
    assert read(standin, "8")["CoreField.Title"] == long_title
    assert update(standin, ("RecordID", "8"), ("CoreField.Title:", "short"), method="GET").status_code == 200


def test_on_post_a_header_overrides_the_url_parameter(standin):
    response = call(
        standin,
        "Documents.All.Default:Update",
        params={"RecordID": "9"},
        data={"CoreField.Title:": "headed"},
        headers={"RecordID": "10"},
    )
    assert response.status_code == 200, response.text
    assert read(standin, "10")["CoreField.Title"] == "headed" and read(standin, "9")["CoreField.Title"] == "Asset 9"


def test_post_takes_form_data_only(standin):
    response = requests.post(
        standin.url + endpoints.DATATABLE + "Documents.All.Default:Update",
        json={"RecordID": "1"},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 415


def test_documents_all_acts_on_exactly_one_match(standin):
    assert update(standin, ("RecordID", "999"), ("CoreField.Title:", "t")).status_code == 404
    update(standin, ("RecordID", "11"), ("CoreField.OtherNum:", "SAME"))
    update(standin, ("RecordID", "12"), ("CoreField.OtherNum:", "SAME"))
    response = update(standin, ("CoreField.OtherNum", "SAME"), ("CoreField.Title:", "t"))
    assert response.status_code == 400 and response.json()["APIResponse"]["Code"] == "AmbiguousLookup"
    assert update(standin, ("CoreField.Identifier", "OL0000011"), ("CoreField.Title:", "by id")).status_code == 200
    assert read(standin, "11")["CoreField.Title"] == "by id"
    assert update(standin, ("CoreField.Title:", "no lookup")).status_code == 400


def test_a_concrete_type_finds_only_its_media_type_and_create_or_update_creates(standin):
    # Asset 1 is an Image, 2 a Video (catalogue.MEDIA_TYPES order).
    assert (
        update(
            standin, ("RecordID", "2"), ("CoreField.Title:", "t"), target="Documents.Image.Default:Update"
        ).status_code
        == 404
    )
    assert (
        update(
            standin, ("RecordID", "1"), ("CoreField.Title:", "t"), target="Documents.Image.Default:Update"
        ).status_code
        == 200
    )
    assert update(standin, ("RecordID", "1"), target="Documents.Image.Event-Photo:Update").status_code == 404
    created = update(
        standin,
        ("CoreField.OriginalFileName", "new.jpg"),
        ("CoreField.Title:", "created"),
        target="Documents.Image.Default:CreateOrUpdate",
    )
    assert created.status_code == 200, created.text
    record_id = created.json()["APIResponse"]["Items"][0]["RecordID"]
    assert read(standin, record_id)["CoreField.Title"] == "created"
    assert standin.counters()["datatable_creates"] == 1


def test_bad_paths_and_actions(standin):
    assert update(standin, ("RecordID", "1"), target="Documents.Nope.Default:Update").status_code == 400
    assert update(standin, ("RecordID", "1"), target="Documents.All.Default:Frobnicate").status_code == 400
    assert update(standin, ("RecordID", "1"), target="Documents.All.Default:Delete").status_code == 501
    assert update(standin, ("RecordID", "1"), ("CoreField.Title", "plain =")).status_code == 400


def test_the_removal_spelling_is_configurable(standin):
    update(standin, ("RecordID", "13"), ("CoreField.Keywords:", "Product|Studio"))
    standin.configure(datatable_remove_operator="--=")
    refused = update(standin, ("RecordID", "13"), ("CoreField.Keywords-", "Studio"))
    assert refused.status_code == 400 and "--=" in refused.json()["APIResponse"]["Message"]
    update(standin, ("RecordID", "13"), ("CoreField.Keywords--", "Studio"))
    assert read(standin, "13")["CoreField.Keywords"] == "Product"


def test_a_bearer_token_is_required_and_status_faults_apply(standin):
    assert call(standin, "Documents.All.Default:Read", "GET", params={"RecordID": "1"}, token=None).status_code == 401
    standin.add_fault("datatable", "status", 2, status=429, retry_after=1)
    first = update(standin, ("RecordID", "1"), ("CoreField.Title:", "t"))
    assert first.status_code == 429 and first.headers["Retry-After"] == "1"
    assert update(standin, ("RecordID", "1"), ("CoreField.Title:", "t")).status_code == 429
    assert update(standin, ("RecordID", "1"), ("CoreField.Title:", "t")).status_code == 200
    counters = standin.counters()
    assert counters["datatable_requests"] == 4 and counters["datatable_updates"] == 1
