"""
### A tiny DAG with one HttpOperator, to compare parse times with the Orange Logic example DAGs

Shaped like `orangelogic_token_exchange`: one operator imported at the top of the file, a param
and a templated field. Only parsed by the benchmarks, never run.
"""

from __future__ import annotations

import pendulum
from airflow.providers.http.operators.http import HttpOperator
from airflow.sdk import DAG, Param

with DAG(
    dag_id="bench_http_tiny",
    description="One HttpOperator, for parse-time comparisons.",
    doc_md=__doc__,
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["benchmark"],
    params={"query": Param("MediaType:Image", type="string", minLength=1)},
) as dag:
    HttpOperator(
        task_id="search",
        http_conn_id="bench_http",
        method="GET",
        endpoint="/API/search/v4.0/search",
        data={"query": "{{ params.query }}", "format": "json", "countperpage": 1},
        retries=0,
    )
