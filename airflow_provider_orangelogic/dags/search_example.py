"""
### Orange Logic: a pipeline using the hook

Pages through `/API/search/v4.0/search` with `OrangeLogicHook.search()`, one page in memory at a
time, and hands a small summary (counts per media type, a few identifiers) to the next task.
The hook takes its access token from the connection's Variable, kept fresh by
`orangelogic_token_refresh`; no task here ever sees or logs a token.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from airflow.sdk import DAG, Param, task

from airflow_provider_orangelogic.dags._common import DEFAULT_CONN_ID, Callback, dag_arguments

DAG_ID = "orangelogic_search_example"


def search_example_dag(
    *,
    dag_id: str = DAG_ID,
    conn_id: str = DEFAULT_CONN_ID,
    query: str = "MediaType:Image",
    page_size: int = 100,
    tags: Sequence[str] = ("orangelogic", "example"),
    on_failure_callback: Callback | None = None,
    default_args: Mapping[str, Any] | None = None,
    **dag_kwargs: Any,
) -> DAG:
    """A manually triggered search: *conn_id*, *query* and *page_size* params with these defaults.

    :param on_failure_callback: Called (a callable or notifier, or a list) when a run fails.
    :param default_args: Merged over the DAG's own (which has none).
    :param dag_kwargs: Any other ``DAG`` argument (schedule, description, doc_md, ...).
    """
    arguments = dag_arguments(
        base_default_args={},
        default_args=default_args,
        on_failure_callback=on_failure_callback,
        tags=tags,
        extra={
            "description": "Page through Orange Logic search results with OrangeLogicHook.",
            "doc_md": __doc__,
            "schedule": None,
            **dag_kwargs,
        },
    )
    with DAG(
        dag_id=dag_id,
        params={
            "conn_id": Param(conn_id, type="string", minLength=1),
            "query": Param(query, type="string", description="An Orange Logic search query."),
            "page_size": Param(page_size, type="integer", minimum=1, maximum=1000),
        },
        **arguments,
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
    return dag
