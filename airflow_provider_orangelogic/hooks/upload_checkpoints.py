"""Where a multi-part upload records its progress by default: one Airflow Variable per file being uploaded.

A task retry, or a rerun on another worker, reads the Variable and resumes the upload; it is deleted once
the upload is complete. The value holds the transaction and upload item IDs, the file's size and the
chunks sent: no secret (the Variable needs no masking).
"""

from __future__ import annotations

import json
from typing import Any

from airflow_provider_orangelogic.compat import invalidate_cached_variable
from airflow_provider_orangelogic.hooks._airflow_context import in_task

DESCRIPTION = (
    "Progress of a multi-part upload to Orange Logic by connection {conn_id}, kept by airflow-provider-orangelogic "
    "so that a rerun resumes it; deleted when the upload completes. Delete it to make the next run start over."
)


class VariableCheckpoints:
    """A :class:`~airflow_provider_orangelogic.api.upload_parts.CheckpointStore` in Airflow Variables."""

    def __init__(self, conn_id: str, prefix: str = "orangelogic_upload_") -> None:
        self.conn_id = conn_id
        self.prefix = prefix

    def __repr__(self) -> str:
        return f"{type(self).__name__}(conn_id={self.conn_id!r})"

    def variable_key(self, key: str) -> str:
        return f"{self.prefix}{self.conn_id}_{key}"

    def load(self, key: str) -> dict[str, Any] | None:
        name = self.variable_key(key)
        if in_task():
            from airflow.sdk import Variable

            invalidate_cached_variable(name)  # another worker may have moved it on
            raw = Variable.get(name, default=None)
        else:
            from airflow.models.variable import Variable as CoreVariable

            raw = CoreVariable.get(name, default_var=None)
        try:
            state = json.loads(raw) if raw else None
        except ValueError:
            return None  # not ours or damaged: start over rather than trust it
        return state if isinstance(state, dict) else None

    def save(self, key: str, state: dict[str, Any]) -> None:
        name, value = self.variable_key(key), json.dumps(state, separators=(",", ":"))
        description = DESCRIPTION.format(conn_id=self.conn_id)
        if in_task():
            from airflow.sdk import Variable

            Variable.set(name, value, description=description)
        else:
            from airflow.models.variable import Variable as CoreVariable

            CoreVariable.set(name, value, description=description)

    def delete(self, key: str) -> None:
        name = self.variable_key(key)
        if in_task():
            from airflow.sdk import Variable

            Variable.delete(name)
        else:
            from airflow.models.variable import Variable as CoreVariable

            CoreVariable.delete(name)
