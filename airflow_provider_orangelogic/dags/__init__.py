"""The provider's DAGs as factories, so a pip-installed provider ships them.

A DAG file in your DAG folder needs two lines (the file must mention "airflow" and "dag", as these do,
for Airflow's safe-mode parser to open it)::

    from airflow_provider_orangelogic.dags import token_refresh_dag
    dag = token_refresh_dag()

``token_exchange_dag()`` (one-time authorization, triggered with a code), ``token_refresh_dag()`` (keeps
the pairs of ``[orangelogic] refresh_conn_ids`` fresh; the one every installation needs) and
``search_example_dag()`` (a pipeline using the hook); ``search_to_storage_dag()`` lands a search in object
storage, one JSON Lines file per run date. Each takes ``on_failure_callback`` (a callable or
a notifier, e.g. ``SlackNotifier(...)``, or a list of them; set on every task, it gets the failure
as ``context["exception"]``: README "Alerts"), ``default_args`` (merged over the
factory's, e.g. for task-level callbacks or an owner), and any other ``DAG`` argument. All of them parse
without touching a Variable, a Connection or the network.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_orangelogic.dags.files_out import orangelogic_to_storage_dag
    from airflow_provider_orangelogic.dags.metadata import update_metadata_dag
    from airflow_provider_orangelogic.dags.search_example import search_example_dag
    from airflow_provider_orangelogic.dags.search_to_storage import search_to_storage_dag
    from airflow_provider_orangelogic.dags.token_exchange import token_exchange_dag
    from airflow_provider_orangelogic.dags.token_refresh import token_refresh_dag
    from airflow_provider_orangelogic.dags.uploads import storage_to_orangelogic_dag
    from airflow_provider_orangelogic.dags.webhook_events import webhook_events_dag, webhook_polling_dag

# Imported on first use, so a DAG file loads only the factory it calls (the search DAG needs no hook to parse).
_FACTORIES = {
    "search_example_dag": "search_example",
    "search_to_storage_dag": "search_to_storage",
    "token_exchange_dag": "token_exchange",
    "token_refresh_dag": "token_refresh",
    "storage_to_orangelogic_dag": "uploads",
    "update_metadata_dag": "metadata",
    "orangelogic_to_storage_dag": "files_out",
    "webhook_events_dag": "webhook_events",
    "webhook_polling_dag": "webhook_events",
}
__all__ = [
    "orangelogic_to_storage_dag",
    "search_example_dag",
    "search_to_storage_dag",
    "storage_to_orangelogic_dag",
    "token_exchange_dag",
    "token_refresh_dag",
    "update_metadata_dag",
    "webhook_events_dag",
    "webhook_polling_dag",
]


def __getattr__(name: str) -> Any:
    if name in _FACTORIES:
        return getattr(importlib.import_module(f"{__name__}.{_FACTORIES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
