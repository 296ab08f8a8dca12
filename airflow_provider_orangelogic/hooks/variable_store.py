"""The token pair's home: one Airflow Variable per connection, holding the whole pair as JSON."""

from __future__ import annotations

import json
import logging
import time

from airflow_provider_orangelogic.compat import invalidate_cached_variable, secrets_backends
from airflow_provider_orangelogic.core.errors import TokenStoreError, TokenStoreUnavailable
from airflow_provider_orangelogic.hooks._airflow_context import in_task
from airflow_provider_orangelogic.oauth.tokens import TokenPair

log = logging.getLogger(__name__)

VARIABLE_DESCRIPTION = (
    "OAuth token pair of the Orange Logic connection {conn_id}, managed by airflow-provider-orangelogic. "
    "Do not edit: run the orangelogic_token_exchange DAG to replace it."
)


def default_variable_key(conn_id: str) -> str:
    # "token" in the key makes Airflow mask the value in the UI and in logs.
    return f"orangelogic_token_{conn_id}"


class VariableTokenStore:
    """Reads and writes the pair through the Task SDK inside tasks and the metadata DB outside."""

    verifies_writes = True  # save() reads the Variable back past every cache: the manager need not again

    def __init__(self, key: str, conn_id: str, *, write_attempts: int = 3, write_backoff: float = 1.0) -> None:
        self.name = key
        self.conn_id = conn_id
        self.description = f"Airflow Variable {key!r}"
        self.write_attempts = write_attempts
        self.write_backoff = write_backoff

    def __repr__(self) -> str:
        return f"{type(self).__name__}(key={self.name!r})"

    def load(self) -> TokenPair | None:
        raw = self._read()
        if raw is None:
            return None
        return TokenPair.from_json(raw, source=self.description)

    def save(self, pair: TokenPair) -> None:
        self.check_writable()
        value = pair.to_json()
        description = VARIABLE_DESCRIPTION.format(conn_id=self.conn_id)
        for attempt in range(1, self.write_attempts + 1):
            try:
                self._write(value, description)
                break
            except Exception as err:
                if attempt == self.write_attempts:
                    raise TokenStoreUnavailable(
                        f"Could not write the new token pair to {self.description} after {attempt} attempts "
                        f"({type(err).__name__}). The previous refresh token may already be spent: if the next "
                        "refresh fails with invalid_grant, authorize again and run orangelogic_token_exchange."
                    ) from None
                log.warning("Writing %s failed (%s); retrying.", self.description, type(err).__name__)
                time.sleep(self.write_backoff * attempt)
        self._verify(value)

    def _verify(self, written: str) -> None:
        """Read the Variable back past every cache; anything but what was written is a failed write.

        Not retried: a different pair read back may be a newer one another host stored meanwhile, which a second
        write would destroy. The caller (the refresh protocol) keeps its rescue copy of the new pair.
        """
        try:
            read = self._read_back()
        except Exception as err:
            raise TokenStoreUnavailable(
                f"Wrote the new token pair to {self.description}, but could not read it back to check the write "
                f"({type(err).__name__}), so it cannot be reported as stored."
            ) from None
        if read == written or _same_record(read, written):
            return
        found = "nothing" if read is None else "a different value"
        raise TokenStoreError(
            f"Wrote the new token pair to {self.description}, but reading it back (past every cache) returned "
            f"{found}: the write did not take effect. Check for something that overrides or rewrites this "
            "Variable (a secrets backend, an AIRFLOW_VAR_ environment variable, a Variable of the same key in "
            "another team, a database trigger or replica lag), or another host authorizing at the same moment."
        )

    def check_writable(self) -> None:
        """Fail before a refresh if a secrets backend or env var hides the Variable we write to.

        Reads go through the secrets backends first, so a pair written to the metadata DB would
        never be read back and the next refresh would present a spent refresh token.
        """
        backend = self._shadowing_backend()
        if backend:
            raise TokenStoreError(
                f"{self.description} is also defined in {backend}, which Airflow reads before the metadata "
                f"DB: newly written tokens would never be read back. Remove it there (for the environment "
                f"variable backend: unset AIRFLOW_VAR_{self.name.upper()}), or point token_variable on the "
                "connection to another key."
            )

    def _shadowing_backend(self) -> str | None:
        for backend in secrets_backends():
            kind = type(backend).__name__
            if kind in ("ExecutionAPISecretsBackend", "MetastoreBackend"):
                continue
            try:
                if backend.get_variable(key=self.name) is not None:
                    return kind
            except Exception:  # noqa: S112 - an unreachable backend cannot shadow anything
                continue
        return None

    def _read(self) -> str | None:
        if in_task():
            from airflow.sdk import Variable

            # A cached copy could be a pair another worker has already refreshed away; presenting its
            # refresh token again is exactly what must never happen.
            invalidate_cached_variable(self.name)
            return Variable.get(self.name, default=None)
        from airflow.models.variable import Variable as CoreVariable

        try:
            return CoreVariable.get(self.name, default_var=None)
        except Exception as err:
            raise TokenStoreUnavailable(
                f"Could not read {self.description} from the metadata DB ({type(err).__name__}). Check that "
                "AIRFLOW_HOME / the sql_alchemy_conn setting point at your Airflow database."
            ) from None

    def _read_back(self) -> str | None:
        """The Variable as stored now: inside a task from the API server with the Task SDK's cache dropped,
        outside one straight from the metadata DB (no cache, no secrets backend)."""
        if in_task():
            from airflow.sdk import Variable

            invalidate_cached_variable(self.name)
            try:
                return Variable.get(self.name, default=None)
            finally:
                invalidate_cached_variable(self.name)
        from airflow.secrets.metastore import MetastoreBackend

        return MetastoreBackend().get_variable(self.name)

    def _write(self, value: str, description: str) -> None:
        if in_task():
            from airflow.sdk import Variable

            Variable.set(self.name, value, description=description)
            return
        from airflow.models.crypto import get_fernet
        from airflow.models.variable import Variable as CoreVariable

        CoreVariable.set(self.name, value, description=description)
        _warn_once_if_unencrypted(get_fernet().is_encrypted)


def _same_record(read: str | None, written: str) -> bool:
    # The same JSON object in another layout (a store may re-serialise what it was given) is the same pair.
    if read is None:
        return False
    try:
        return json.loads(read) == json.loads(written)
    except (ValueError, RecursionError, TypeError):
        return False


_warned_unencrypted = False


def _warn_once_if_unencrypted(encrypted: bool) -> None:
    # Inside a task the API server encrypts, and the worker cannot tell; outside one we can.
    global _warned_unencrypted
    if not encrypted and not _warned_unencrypted:
        _warned_unencrypted = True
        log.warning(
            "Airflow has no [core] fernet_key, so the Orange Logic token pair is stored unencrypted in the "
            "metadata DB. Set AIRFLOW__CORE__FERNET_KEY on every Airflow component (see docs/security.md)."
        )
