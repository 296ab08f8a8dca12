"""Unit tests of api/metadata.py: row parsing, operators, the URL length switch, dry run, fail_fast, errors.

The calls go to a fake ``request`` that records them and answers like the DataTable does (one function, no
server): the stand-in's own behaviour is tested over a socket in tests/stand_in/test_datatable.py.
"""

from __future__ import annotations

import json
import threading

import pytest
import requests

from airflow_provider_orangelogic.api.metadata import (
    RowError,
    parse_row,
    plan_call,
    rows_from_csv,
    rows_from_json_lines,
    update_metadata,
)
from airflow_provider_orangelogic.core.errors import OrangeLogicAPIError

PATH = "/API/DataTable/V2.2/Documents.All.Default:Update"


def answer(status: int = 200, payload: object = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(payload if payload is not None else {"APIResponse": {"Code": "Success"}}).encode()
    response.headers["Content-Type"] = "application/json"
    return response


class FakeDataTable:
    """Records calls; ``answers`` maps a RecordID to what that row's call gets."""

    def __init__(self, answers: dict[str, object] | None = None) -> None:
        self.calls: list[tuple[str, str, list[tuple[str, str]]]] = []
        self.answers = answers or {}
        self.lock = threading.Lock()

    def __call__(self, method: str, path: str, *, on_retry=None, params=None, data=None) -> requests.Response:
        pairs = list(params if params is not None else data)
        with self.lock:
            self.calls.append((method, path, pairs))
        record_id = dict(pairs).get("RecordID")
        result = self.answers.get(record_id)
        if isinstance(result, Exception):
            raise result
        return result if isinstance(result, requests.Response) else answer()


# ---- rows ----


def test_a_nested_row_gives_one_write_per_field_with_its_operator_and_lists_pipe_joined():
    row = parse_row(
        1,
        {
            "RecordID": "12",
            "fields": {"CoreField.Title": "x", "CoreField.Keywords": {"op": "++=", "value": ["a", "b"]}},
        },
    )
    assert row.key == "RecordID=12"
    assert [(w.parameter, w.value) for w in row.writes] == [("CoreField.Title:", "x"), ("CoreField.Keywords++", "a|b")]


def test_flat_columns_carry_their_operator_in_the_name_and_systemidentifier_means_the_identifier():
    row = parse_row(
        2, {"SystemIdentifier": "OL0000012", "CoreField.Keywords+=": "a|b", "CoreField.Keywords-=": "c", "P.N": 3}
    )
    assert row.lookup_field == "CoreField.Identifier"
    assert [(w.field, w.operator, w.value) for w in row.writes] == [
        ("CoreField.Keywords", "+=", "a|b"),
        ("CoreField.Keywords", "-=", "c"),
        ("P.N", ":=", "3"),
    ]


def test_several_operators_on_one_field_and_a_configured_removal_spelling():
    row = parse_row(
        1,
        {
            "RecordID": "1",
            "fields": {"CoreField.Keywords": [{"op": "--=", "value": "old"}, {"op": "++=", "value": "new"}]},
        },
        remove_operator="--=",
    )
    assert [w.parameter for w in row.writes] == ["CoreField.Keywords--", "CoreField.Keywords++"]
    with pytest.raises(RowError, match="operator '-='"):
        parse_row(
            1, {"RecordID": "1", "fields": {"CoreField.Keywords": {"op": "-=", "value": "x"}}}, remove_operator="--="
        )


def test_blank_values_are_skipped_unless_an_explicit_operator_says_clear():
    row = parse_row(1, {"RecordID": "1", "CoreField.Title": "", "CoreField.Copyright": None,
                        "fields": {"CoreField.CaptionLong": {"op": ":=", "value": ""}}})  # fmt: skip
    assert [(w.field, w.value) for w in row.writes] == [("CoreField.CaptionLong", "")]
    assert [w.field for w in parse_row(1, {"RecordID": "1", "CoreField.Title": ""}, skip_blank=False).writes] == [
        "CoreField.Title"
    ]


@pytest.mark.parametrize(
    ("raw", "field", "words"),
    [
        ({"CoreField.Title": "x"}, None, "no asset key"),
        ({"RecordID": "1", "CoreField.Identifier": "OL1", "CoreField.Title": "x"}, None, "2 (RecordID"),
        ({"RecordID": "1", "CoreField.OriginalFileName": "a.jpg"}, None, "2 ("),
        ({"RecordID": "1", "EditDate": "2020"}, "EditDate", "read-only"),
        ({"RecordID": "1", "fields": {"CoreField.FileSize": 3}}, "CoreField.FileSize", "read-only"),
        ({"RecordID": "1", "Title": "x"}, "Title", "Namespace.FieldName"),
        ({"RecordID": "1", "CoreField.Keywords": ["a|b"]}, "CoreField.Keywords", "contains '|'"),
        ({"RecordID": "1", "fields": {"CoreField.Title": {"op": "*=", "value": 1}}}, "CoreField.Title", "operator"),
        ({"RecordID": "1", "fields": {"CoreField.Title": {"value": 1, "x": 2}}}, "CoreField.Title", "unexpected x"),
    ],
)
def test_a_bad_row_is_refused_naming_the_row_and_the_field(raw, field, words):
    with pytest.raises(RowError) as caught:
        parse_row(7, raw)
    assert str(caught.value).startswith("Row 7") and words in str(caught.value)
    assert caught.value.field == field and caught.value.row == 7


def test_known_fields_refuses_any_other_field_before_sending():
    with pytest.raises(RowError, match=r"unknown field CoreField\.Nope") as caught:
        parse_row(3, {"RecordID": "1", "CoreField.Nope": "x"}, known_fields=["CoreField.Title"])
    assert caught.value.field == "CoreField.Nope"


def test_json_lines_and_csv_readers():
    rows = list(rows_from_json_lines(['{"RecordID": "1", "CoreField.Title": "a"}\n', "\n", "{bad\n"]))
    assert rows[0] == {"RecordID": "1", "CoreField.Title": "a"}
    with pytest.raises(RowError, match="Row 2: line 3 is not JSON"):
        parse_row(2, rows[1])
    rows = list(rows_from_csv(["RecordID,CoreField.Keywords++=\n", "1,a|b\n", "2,,extra\n"]))
    assert parse_row(1, rows[0]).writes[0].parameter == "CoreField.Keywords++"
    with pytest.raises(RowError, match="more cells"):
        parse_row(2, rows[1])


# ---- calls ----


def test_the_url_length_switch_counts_the_whole_url_against_260_characters():
    base = "https://dam.example.com"
    short = parse_row(1, {"RecordID": "1", "CoreField.Title": "x"})
    assert plan_call(short, PATH, method="auto", max_url_length=260, base_url=base).method == "GET"
    assert plan_call(short, PATH, method="post", max_url_length=260, base_url=base).method == "POST"
    fits = 260 - len(base + PATH + "?RecordID=1&CoreField.Title%3A=&format=json")
    exactly = parse_row(1, {"RecordID": "1", "CoreField.Title": "y" * fits})
    assert plan_call(exactly, PATH, method="auto", max_url_length=260, base_url=base).method == "GET"
    over = parse_row(1, {"RecordID": "1", "CoreField.Title": "y" * (fits + 1)})
    assert plan_call(over, PATH, method="auto", max_url_length=260, base_url=base).method == "POST"
    assert plan_call(over, PATH, method="get", max_url_length=260, base_url=base).method == "GET"


def test_post_sends_form_data_and_get_sends_the_query():
    fake = FakeDataTable()
    update_metadata(fake, [{"RecordID": "1", "CoreField.Title": "x"}])
    update_metadata(fake, [{"RecordID": "1", "CoreField.Title": "x"}], method="get", document_type="Image", subtype="")
    assert fake.calls[0] == ("POST", PATH, [("RecordID", "1"), ("CoreField.Title:", "x"), ("format", "json")])
    assert fake.calls[1][:2] == ("GET", "/API/DataTable/V2.2/Documents.Image:Update")


def test_auto_resends_a_403_get_once_as_a_post():
    class ForbidGets(FakeDataTable):
        def __call__(self, method, path, **kwargs):
            super().__call__(method, path, **kwargs)
            return answer(403, {"error": "forbidden"}) if method == "GET" else answer()

    fake = ForbidGets()
    result = update_metadata(fake, [{"RecordID": "1", "CoreField.Title": "x"}], method="auto", base_url="https://h")
    assert [c[0] for c in fake.calls] == ["GET", "POST"] and result.rows[0].status == "ok"


def test_a_dry_run_sends_nothing_and_returns_each_call():
    fake = FakeDataTable()
    result = update_metadata(fake, [{"RecordID": "1", "CoreField.Title": "x"}, {"RecordID": "2"}], dry_run=True)
    assert fake.calls == []
    first, second = result.rows
    assert first.status == "skipped" and first.call.as_dict() == {
        "method": "POST",
        "path": PATH,
        "params": [["RecordID", "1"], ["CoreField.Title:", "x"], ["format", "json"]],
    }
    assert second.status == "skipped" and second.error.startswith("nothing to write")
    assert result.summary()["dry_run"] is True and "Authorization" not in json.dumps(first.as_dict())


# ---- answers and the run ----


@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_failed_row_never_stops_the_others(concurrency):
    fake = FakeDataTable(
        {
            "2": answer(200, {"APIResponse": {"Code": "InvalidField", "Message": "x",
                                              "Errors": [{"Field": "CoreField.Nope", "Message": "unknown field"}]}}),
            "3": OrangeLogicAPIError("GET ... answered HTTP 404", status_code=404),
            "4": answer(200, {"APIResponse": {"Code": "Error", "Message": "CoreField.Title is too long"}}),
        }
    )  # fmt: skip
    rows = [{"RecordID": str(n), "CoreField.Title": "t", "CoreField.Nope": "x"} for n in range(1, 7)]
    result = update_metadata(fake, rows, concurrency=concurrency)
    statuses = [r.status for r in result.rows]
    assert statuses == ["ok", "failed", "failed", "failed", "ok", "ok"]
    two, three, four = result.rows[1:4]
    assert two.field == "CoreField.Nope" and "Row 2 (RecordID=2): field CoreField.Nope" in two.error
    assert three.status_code == 404 and "no asset matches RecordID=3" in three.error
    assert four.field == "CoreField.Title" and "Code 'Error'" in four.error  # a 200 is not always a success
    assert result.summary()["failed"] == 3 and len(fake.calls) == 6


@pytest.mark.parametrize("concurrency", [1, 3])
def test_fail_fast_stops_sending_at_the_first_failed_row(concurrency):
    fake = FakeDataTable({"2": OrangeLogicAPIError("HTTP 404", status_code=404)})
    rows = [{"RecordID": str(n), "CoreField.Title": "t"} for n in range(1, 21)]
    result = update_metadata(fake, rows, concurrency=concurrency, fail_fast=True)
    assert result.rows[1].status == "failed"
    assert len(result.rows) == 20 and len(fake.calls) < 20
    assert all(r.status == "skipped" for r in result.rows[len(fake.calls) :])
    assert "fail_fast" in result.rows[-1].error


def test_a_refused_token_stops_the_run_rather_than_failing_every_row():
    fake = FakeDataTable({"1": OrangeLogicAPIError("answered HTTP 401", status_code=401)})
    with pytest.raises(OrangeLogicAPIError):
        update_metadata(fake, [{"RecordID": "1", "CoreField.Title": "t"}, {"RecordID": "2", "CoreField.Title": "t"}])


def test_an_answer_that_is_not_the_expected_json_fails_the_row():
    response = requests.Response()
    response.status_code, response._content = 200, b"<html>OK</html>"
    result = update_metadata(FakeDataTable({"1": response}), [{"RecordID": "1", "CoreField.Title": "t"}])
    assert result.rows[0].status == "failed" and "without the expected JSON" in result.rows[0].error


def test_verify_names_a_field_the_read_back_does_not_show():
    class Ignores(FakeDataTable):
        def __call__(self, method, path, **kwargs):
            super().__call__(method, path, **kwargs)
            if path.endswith(":Read"):
                return answer(200, {"APIResponse": {"Code": "Success", "Items": [{"CoreField.Title": "old"}]}})
            return answer()

    result = update_metadata(Ignores(), [{"RecordID": "1", "CoreField.Title": "new"}], verify=True)
    (row,) = result.rows
    assert row.status == "failed" and row.field == "CoreField.Title" and "reads 'old'" in row.error


@pytest.mark.parametrize(
    ("option", "value"),
    [("concurrency", 0), ("concurrency", 11), ("action", "Delete"), ("method", "put"), ("document_type", "A.B"),
     ("remove_operator", "minus")],
)  # fmt: skip
def test_bad_options_are_refused_before_any_row(option, value):
    with pytest.raises(ValueError, match=option):
        update_metadata(FakeDataTable(), [], **{option: value})
