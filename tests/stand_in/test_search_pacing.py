"""Search pacing: the stand-in's per-request latency and its limit on search requests in progress."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from airflow_provider_orangelogic.core import endpoints
from airflow_provider_orangelogic.testing import OrangeLogicStandIn, StandInConfig
from airflow_provider_orangelogic.testing.__main__ import build_parser, config_from_args
from airflow_provider_orangelogic.testing.process import StandInProcess
from tests.stand_in.helpers import TIMEOUT, search

BEARER = "pacing-bearer-token"


def together(count: int, call) -> list[requests.Response]:
    """``count`` calls released at the same instant, each on its own connection."""
    barrier = threading.Barrier(count)

    def one(_: int) -> requests.Response:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def test_latency_makes_search_requests_overlap(standin: OrangeLogicStandIn) -> None:
    standin.configure(bearer_tokens=[BEARER], search_latency=1.0)
    answers = together(4, lambda: search(standin, BEARER, countperpage=3))
    assert [a.status_code for a in answers] == [200] * 4
    counters = standin.counters()
    # All four were in progress at once: each one was held for the latency, none waited for another.
    assert counters["search_peak_in_flight"] == 4 and counters["search_429"] == 0
    assert counters["search_pages_served"] == 4


def test_requests_above_the_limit_get_429_with_retry_after(standin: OrangeLogicStandIn) -> None:
    standin.configure(bearer_tokens=[BEARER], search_latency=1.0, search_max_in_flight=2, search_retry_after=0.25)
    answers = together(5, lambda: search(standin, BEARER, countperpage=3))
    refused = [a for a in answers if a.status_code == 429]
    assert sorted(a.status_code for a in answers) == [200, 200, 429, 429, 429]
    for answer in refused:
        assert answer.headers["Retry-After"] == "0.25"
        assert answer.json()["error"] == "too_many_requests"
        assert "more than 2 search requests" in answer.json()["error_description"]
    counters = standin.counters()
    assert counters["search_429"] == 3 and counters["search_peak_in_flight"] == 2
    assert counters["search_requests"] == 5 and counters["search_pages_served"] == 2
    # Once the two have been answered, there is room again.
    assert search(standin, BEARER, countperpage=3).status_code == 200


def test_a_refused_request_takes_no_fault_and_reset_clears_the_counters(standin: OrangeLogicStandIn) -> None:
    standin.configure(bearer_tokens=[BEARER], search_latency=1.0, search_max_in_flight=1, search_retry_after=1)
    standin.add_fault("search", "status", status=500)
    answers = together(2, lambda: search(standin, BEARER, countperpage=3))
    # One request was let in and took the fault; the other was refused before reaching the fault queue.
    assert sorted(a.status_code for a in answers) == [429, 500]
    assert [a.headers["Retry-After"] for a in answers if a.status_code == 429] == ["1"]
    assert search(standin, BEARER, countperpage=3).status_code == 200
    standin.reset()
    assert standin.counters()["search_429"] == standin.counters()["search_peak_in_flight"] == 0


def test_no_limit_and_no_latency_by_default() -> None:
    config = StandInConfig()
    assert (config.search_latency, config.search_max_in_flight) == (0.0, 0)


@pytest.mark.parametrize(
    "changes",
    [
        {"search_latency": -0.1},
        {"search_latency": "0.05"},
        {"search_latency": float("inf")},
        {"search_max_in_flight": -1},
        {"search_max_in_flight": 1.5},
        {"search_max_in_flight": True},
        {"search_retry_after": -1},
        {"search_retry_after": None},
    ],
)
def test_invalid_pacing_is_refused(standin: OrangeLogicStandIn, changes: dict) -> None:
    with pytest.raises(ValueError):
        standin.configure(**changes)


def test_cli_options_set_the_pacing() -> None:
    args = build_parser().parse_args(
        ["--search-latency", "0.05", "--search-max-in-flight", "4", "--search-retry-after", "2"]
    )
    config = config_from_args(args)
    assert (config.search_latency, config.search_max_in_flight, config.search_retry_after) == (0.05, 4, 2.0)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--search-max-in-flight", "-1"])


def test_stand_in_process_passes_the_pacing_on(tmp_path: Path) -> None:
    with StandInProcess(
        client_id="pacing-client",
        client_secret="pacing-secret",
        redirect_uri="http://127.0.0.1:9/cb",
        search_latency=1.0,
        search_max_in_flight=1,
        search_retry_after=0.5,
        max_runtime=60,
    ) as process:
        process.configure(bearer_tokens=[BEARER])

        def call() -> requests.Response:
            return requests.get(
                process.url + endpoints.SEARCH,
                params={"format": "json", "countperpage": 2},
                headers={"Authorization": f"Bearer {BEARER}"},
                timeout=TIMEOUT,
            )

        answers = together(2, call)
        assert sorted(a.status_code for a in answers) == [200, 429]
        counters = process.counters()
        assert counters["search_429"] == 1 and counters["search_peak_in_flight"] == 1
