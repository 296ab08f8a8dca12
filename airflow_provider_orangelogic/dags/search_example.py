"""
### Orange Logic: a pipeline using the hook

Pages through `/API/search/v4.0/search` with `OrangeLogicHook.search()`, one page in memory at a
time, and hands a small summary (counts per media type, a few identifiers) to the next task.
The hook takes its access token from the connection's Variable, kept fresh by
`orangelogic_token_refresh`; no task here ever sees or logs a token. The search retries twice,
two minutes apart, so a failure that passes (a token the refresh DAG renews meanwhile, a brief
outage) does not fail the run for good.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, Param, task

from airflow_provider_orangelogic.dags._common import DEFAULT_CONN_ID, Callback, conn_id_param, dag_arguments

DAG_ID = "orangelogic_search_example"


def search_example_dag(
    *,
    dag_id: str = DAG_ID,
    conn_id: str = DEFAULT_CONN_ID,
    query: str = "MediaType:Image",
    page_size: int = 100,
    retries: int = 2,
    retry_delay: timedelta = timedelta(minutes=2),
    tags: Sequence[str] = ("orangelogic", "example"),
    on_failure_callback: Callback | None = None,
    default_args: Mapping[str, Any] | None = None,
    **dag_kwargs: Any,
) -> DAG:
    """A manually triggered search: *conn_id*, *query* and *page_size* params with these defaults.

    :param retries: Task retries, so that one failure that passes (a token the refresh DAG renews in the
        meantime, the host briefly down) does not fail the run for good.
    :param retry_delay: The wait before each retry.
    :param on_failure_callback: Called (a callable or notifier, or a list) by a task that fails after its
        last retry, with the failure in ``context["exception"]``.
    :param default_args: Merged over the DAG's own (retries, retry_delay).
    :param dag_kwargs: Any other ``DAG`` argument (schedule, description, doc_md, ...).
    """
    arguments = dag_arguments(
        base_default_args={"retries": retries, "retry_delay": retry_delay},
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
            "conn_id": conn_id_param(
                conn_id,
                "The orangelogic connection to search with (Admin > Connections); its token pair "
                "must be authorized (Admin > Orange Logic).",
            ),
            "query": Param(
                query,
                type="string",
                title="Search query",
                description="An Orange Logic search query, e.g. MediaType:Image.",
            ),
            "page_size": Param(
                page_size,
                type="integer",
                minimum=1,
                maximum=1000,
                title="Page size",
                description="Assets per Search API call, 1 to 1000: fewer, larger pages mean fewer calls, but "
                "more memory and a longer wait per call.",
            ),
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
