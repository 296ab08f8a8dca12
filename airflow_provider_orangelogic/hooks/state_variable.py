"""Where a connection's issued authorization states live: one Airflow Variable per connection.

``orangelogic_issued_states_<conn_id>`` holds hashes and times only (``oauth/state.py``), never a state.
Read and written through the Task SDK inside a task (the exchange DAG) and the metadata DB outside (a
Python shell calling ``get_authorization_url()``, the API server), like the token pair.
"""

from __future__ import annotations

from airflow_provider_orangelogic.compat import invalidate_cached_variable
from airflow_provider_orangelogic.hooks._airflow_context import in_task
from airflow_provider_orangelogic.oauth.locking import refresh_lock
from airflow_provider_orangelogic.oauth.state import IssuedStates, StateRecordStore

DESCRIPTION = (
    "States of the authorization URLs issued for the Orange Logic connection {conn_id} (SHA-256 and expiry "
    "only), managed by airflow-provider-orangelogic; checked and spent by the exchange of a code."
)


def default_state_variable_key(conn_id: str) -> str:
    return f"orangelogic_issued_states_{conn_id}"


class VariableStateRecordStore:
    def __init__(self, conn_id: str, key: str | None = None) -> None:
        self.conn_id = conn_id
        self.name = key or default_state_variable_key(conn_id)
        self.description = f"Airflow Variable {self.name!r}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(key={self.name!r})"

    def load(self) -> str | None:
        if in_task():
            from airflow.sdk import Variable

            invalidate_cached_variable(self.name)  # a cached copy could still list a spent state as unused
            return Variable.get(self.name, default=None)
        from airflow.models.variable import Variable as CoreVariable

        return CoreVariable.get(self.name, default_var=None)

    def save(self, text: str) -> None:
        description = DESCRIPTION.format(conn_id=self.conn_id)
        if in_task():
            from airflow.sdk import Variable

            Variable.set(self.name, text, description=description)
            return
        from airflow.models.variable import Variable as CoreVariable

        CoreVariable.set(self.name, text, description=description)


def configured_state_lifetime() -> float:
    """``[orangelogic] state_lifetime_seconds``; its default when unset, unreadable or not a positive number."""
    from airflow_provider_orangelogic.compat import conf
    from airflow_provider_orangelogic.core import config

    default = float(config.STATE_LIFETIME_SECONDS.default or 1800)
    try:
        value = float(conf.get(config.SECTION, config.STATE_LIFETIME_SECONDS.name, fallback=str(default)))
    except Exception:  # an unreadable option must not block an authorization: its default applies
        return default
    return value if value > 0 else default


def issued_states_for(
    conn_id: str, *, store: StateRecordStore | None = None, lock_dir: str | None = None
) -> IssuedStates:
    """A connection's issued states: kept in its Variable unless ``store`` says otherwise, under a host lock."""
    return IssuedStates(
        store or VariableStateRecordStore(conn_id),
        conn_id,
        lifetime=configured_state_lifetime(),
        lock=lambda: refresh_lock(f"issued-states:{conn_id}", lock_dir=lock_dir, timeout=30),
        restart="open the authorization URL again (press Authorize on the Orange Logic page of the Airflow UI, "
        f"or get one with OrangeLogicHook({conn_id!r}).get_authorization_url()), approve, and give the whole "
        "address the browser landed on to the orangelogic_token_exchange DAG",
        skip="trigger the orangelogic_token_exchange DAG with skip_state_check set to true (in Python: "
        "exchange_code(..., skip_state_check=True))",
    )
