"""The Search endpoint over HTTP: paging, fields, queries, JSON and XML, bearer checks."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import requests

from airflow_provider_orangelogic.core import endpoints
from airflow_provider_orangelogic.testing import OrangeLogicStandIn
from tests.stand_in.helpers import TIMEOUT, search


def test_search_pages_through_catalogue(standin: OrangeLogicStandIn, access_token: str) -> None:
    sizes, identifiers = [], []
    next_pages = []
    for page in range(1, 5):
        answer = search(standin, access_token, pagenumber=page).json()["APIResponse"]
        assert answer["GlobalInfo"]["TotalCount"] == 250
        next_pages.append(answer["GlobalInfo"]["NextPage"])
        sizes.append(len(answer["Items"]))
        identifiers += [item["SystemIdentifier"] for item in answer["Items"]]
    assert sizes == [100, 100, 50, 0]
    assert identifiers == [f"OL{n:07d}" for n in range(1, 251)]
    assert "pagenumber=2" in next_pages[0]
    assert next_pages[2] == next_pages[3] == ""
    # NextPage is a usable link.
    follow = requests.get(next_pages[0], headers={"Authorization": f"Bearer {access_token}"}, timeout=TIMEOUT).json()
    assert follow["APIResponse"]["Items"][0]["SystemIdentifier"] == "OL0000101"
    counters = standin.counters()
    assert counters["search_pages_served"] == 5
    assert counters["search_items_served"] == 350


def test_search_page_size_is_capped_and_validated(standin: OrangeLogicStandIn, access_token: str) -> None:
    standin.configure(catalogue_size=1500)
    assert len(search(standin, access_token, countperpage=5000).json()["APIResponse"]["Items"]) == 1000
    assert len(search(standin, access_token, countperpage=7).json()["APIResponse"]["Items"]) == 7
    for bad in ({"countperpage": "0"}, {"countperpage": "many"}, {"pagenumber": "0"}):
        response = search(standin, access_token, **bad)
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_request"


def test_search_fields_filter(standin: OrangeLogicStandIn, access_token: str) -> None:
    items = search(standin, access_token, fields="MediaType, filesize,Nonsense", countperpage=4).json()
    items = items["APIResponse"]["Items"]
    assert [set(item) for item in items] == [{"SystemIdentifier", "MediaType", "FileSize"}] * 4
    assert [item["MediaType"] for item in items] == ["Image", "Video", "Audio", "Document"]
    assert all(isinstance(item["FileSize"], int) for item in items)
    default = search(standin, access_token, countperpage=1).json()["APIResponse"]["Items"]
    assert default == [{"SystemIdentifier": "OL0000001", "Title": "Asset 1"}]


@pytest.mark.parametrize(
    ("query", "total"),
    [
        ("", 250),
        ("*", 250),
        ("MediaType:Image", 63),
        ("mediatype:Video", 63),
        ("MediaType:Document", 62),
        ("MediaType:image", 0),
        ("SystemIdentifier:OL0000007", 1),
        ("Title:Asset 250", 1),
        ("Title:Asset 251", 0),
    ],
)
def test_search_query(standin: OrangeLogicStandIn, access_token: str, query: str, total: int) -> None:
    answer = search(standin, access_token, query=query, fields="MediaType,Title", countperpage=1000)
    answer = answer.json()["APIResponse"]
    assert answer["GlobalInfo"]["TotalCount"] == total
    assert len(answer["Items"]) == total
    if query.lower().startswith("mediatype:") and total:
        assert {item["MediaType"] for item in answer["Items"]} == {query.split(":")[1]}


@pytest.mark.parametrize("query", ["MediaType=Image", "Colour:Red", "a b c"])
def test_search_rejects_unknown_query_syntax(standin: OrangeLogicStandIn, access_token: str, query: str) -> None:
    response = search(standin, access_token, query=query)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_search_defaults_to_xml(standin: OrangeLogicStandIn, access_token: str) -> None:
    response = requests.get(
        standin.url + endpoints.SEARCH,
        params={"countperpage": 3, "query": "MediaType:Audio"},
        headers={"Authorization": f"Bearer {access_token}"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/xml")
    root = ET.fromstring(response.content)
    assert root.tag == "APIResponse"
    assert root.findtext("GlobalInfo/TotalCount") == "62"
    assert [item.findtext("SystemIdentifier") for item in root.iter("Item")] == [
        "OL0000003",
        "OL0000007",
        "OL0000011",
    ]


def test_search_by_post_form(standin: OrangeLogicStandIn, access_token: str) -> None:
    response = requests.post(
        standin.url + endpoints.SEARCH,
        data={"query": "MediaType:Video", "format": "json", "countperpage": "2", "pagenumber": "2"},
        headers={"Authorization": f"Bearer {access_token}"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 200
    items = response.json()["APIResponse"]["Items"]
    assert [item["SystemIdentifier"] for item in items] == ["OL0000010", "OL0000014"]


def test_search_without_global_info(standin: OrangeLogicStandIn, access_token: str) -> None:
    standin.configure(global_info=False)
    answer = search(standin, access_token, countperpage=2).json()
    assert set(answer["APIResponse"]) == {"Items"}


@pytest.mark.parametrize("authorization", [None, "Bearer", "Bearer not-a-token", "Basic abc"])
def test_search_requires_valid_bearer(
    standin: OrangeLogicStandIn, access_token: str, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = requests.get(standin.url + endpoints.SEARCH, params={"format": "json"}, headers=headers, timeout=TIMEOUT)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert standin.counters()["unauthorized"] == 1
    assert standin.counters()["search_pages_served"] == 0


def test_search_pages_through_100000_assets_quickly(standin: OrangeLogicStandIn, access_token: str) -> None:
    standin.configure(catalogue_size=100_000)
    seen = 0
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {access_token}"
        for page in range(1, 102):
            response = session.get(
                standin.url + endpoints.SEARCH,
                params={"format": "json", "countperpage": 1000, "pagenumber": page, "fields": "Title"},
                timeout=TIMEOUT,
            )
            items = response.json()["APIResponse"]["Items"]
            if not items:
                break
            seen += len(items)
    assert seen == 100_000
    assert items == []


def test_date_windows_match_a_scan_of_the_catalogue_and_bad_ones_are_refused() -> None:
    from datetime import datetime, timedelta, timezone

    from airflow_provider_orangelogic.testing.stand_in import catalogue

    size = 5000
    for day in range(0, 130, 7):
        start = datetime(2020, 1, 1, tzinfo=timezone.utc) + timedelta(days=day, hours=day % 5)
        end = start + timedelta(hours=30)
        query = f"EditDate>={start:%Y-%m-%dT%H:%M:%SZ} AND EditDate<{end:%Y-%m-%dT%H:%M:%SZ}"
        scanned = [n for n in range(1, size + 1) if start <= catalogue.edited_at(n) < end]
        assert list(catalogue.matching_numbers(query, size)) == scanned, query
        images = [n for n in scanned if catalogue.asset(n)["MediaType"] == "Image"]
        assert list(catalogue.matching_numbers(f"(MediaType:Image) AND {query}", size)) == images
    for bad, message in [
        ("EditDate>=yesterday", "unsupported date"),
        ("Title>=2020-01-01T00:00:00Z", "only CreateDate and EditDate"),
    ]:
        with pytest.raises(catalogue.SearchError, match=message):
            catalogue.matching_numbers(bad, size)
