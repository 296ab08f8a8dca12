"""
### Orange Logic: a pipeline using the hook

Pages through `/API/search/v4.0/search` with `OrangeLogicHook.search()`, one page in memory at a
time, and hands a small summary (counts per media type, a few identifiers) to the next task.
The hook takes its access token from the connection's Variable, kept fresh by
`orangelogic_token_refresh`; no task here ever sees or logs a token.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pendulum
from airflow.sdk import DAG, Param, task

with DAG(
    dag_id="orangelogic_search_example",
    description="Page through Orange Logic search results with OrangeLogicHook.",
    doc_md=__doc__,
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["orangelogic", "example"],
    params={
        "conn_id": Param("orangelogic_default", type="string", minLength=1),
        "query": Param("MediaType:Image", type="string", description="An Orange Logic search query."),
        "page_size": Param(100, type="integer", minimum=1, maximum=1000),
    },
) as dag:

    @task
    def search_assets(params: dict[str, Any]) -> dict[str, Any]:
        from airflow_provider_orangelogic.hooks.orangelogic import OrangeLogicHook

        hook = OrangeLogicHook(params["conn_id"])
        media_types: Counter[str] = Counter()
        pages = 0
        sample: list[str] = []

        def count_page(page: int, items: int) -> None:
            nonlocal pages
            pages = page

        items = hook.search(
            params["query"],
            fields=("SystemIdentifier", "Title", "MediaType"),
            page_size=params["page_size"],
            on_page=count_page,
        )
        for item in items:
            media_types[item.get("MediaType", "unknown")] += 1
            if len(sample) < 5:
                sample.append(item["SystemIdentifier"])
        return {
            "query": params["query"],
            "assets": sum(media_types.values()),
            "pages": pages,
            "media_types": dict(media_types),
            "sample_ids": sample,
        }

    @task
    def report(summary: dict[str, Any]) -> None:
        print(
            f"Search {summary['query']!r}: {summary['assets']} assets over {summary['pages']} pages; "
            f"by media type {summary['media_types']}; first ids {summary['sample_ids']}"
        )

    report(search_assets())
