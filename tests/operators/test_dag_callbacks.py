"""The factories' ``on_failure_callback`` reaches every task, where Airflow hands it the failure itself.

A real run of such a callback is in tests/integration/test_alerts.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from airflow_provider_orangelogic.dags import (
    search_example_dag,
    search_to_storage_dag,
    token_exchange_dag,
    token_refresh_dag,
)


def alert(context):  # pragma: no cover - never called here
    return None


def other(context):  # pragma: no cover - never called here
    return None


@pytest.mark.parametrize(
    "factory",
    [token_refresh_dag, token_exchange_dag, search_example_dag, search_to_storage_dag],
    ids=lambda f: f.__name__,
)
def test_on_failure_callback_is_set_on_every_task(factory):
    dag = factory(on_failure_callback=alert)
    assert dag.tasks
    for task in dag.tasks:
        callbacks = task.on_failure_callback
        assert callbacks == alert or callbacks == [alert], task.task_id
    # One in default_args wins (e.g. a different callback per task kind is set there).
    dag = factory(on_failure_callback=alert, default_args={"on_failure_callback": other})
    assert all(task.on_failure_callback in (other, [other]) for task in dag.tasks)


def test_refresh_tasks_are_labelled_by_connection_id():
    (task,) = token_refresh_dag(conn_ids=["a", "b"]).tasks
    assert task.map_index_template == "{{ task.orangelogic_conn_id }}"


def test_the_search_retries_twice_two_minutes_apart():
    dag = search_example_dag()
    assert {t.task_id: (t.retries, t.retry_delay) for t in dag.tasks} == {
        "search_assets": (2, timedelta(minutes=2)),
        "report": (2, timedelta(minutes=2)),
    }
    assert search_example_dag(retries=0).get_task("search_assets").retries == 0
