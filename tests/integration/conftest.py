"""Fixtures for integration tests: a real Airflow (SQLite metadata DB, real CLI) plus the stand-in."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import textwrap
from collections.abc import Iterator

import pytest

from airflow_provider_orangelogic.testing import OrangeLogicStandIn, StandInConfig
from airflow_provider_orangelogic.testing.browser import follow_authorization
from airflow_provider_orangelogic.testing.sandbox import AirflowSandbox

CLIENT_ID = "airflow-it-client"
CLIENT_SECRET = "it-client-secret-4f9QwZ"
REDIRECT_URI = "http://127.0.0.1:8080/orangelogic/callback"


# Long enough that no token expires during the suite however slow the machine is, and unlike the
# 24-hour fallback, so a test can tell the lifetime came from expires_in. Refreshes are forced.
ACCESS_LIFETIME = 6 * 3600


def stand_in_config(**changes) -> StandInConfig:
    """The suite's OAuth client (ID, secret, redirect URI, access lifetime) with a test's own settings."""
    return StandInConfig(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uris=(REDIRECT_URI,),
        access_lifetime=ACCESS_LIFETIME,
        **changes,
    )


@pytest.fixture(scope="session")
def stand_in():
    with OrangeLogicStandIn(stand_in_config(catalogue_size=1000, strict=True)) as server:
        yield server


@contextlib.contextmanager
def authorized_stand_in(box: AirflowSandbox, conn_id: str, **config_changes) -> Iterator[OrangeLogicStandIn]:
    """A stand-in of its own, with ``conn_id`` in ``box`` pointing at it and authorized (a code exchanged)."""
    with OrangeLogicStandIn(stand_in_config(**config_changes)) as server:
        add_orangelogic_connection(box, conn_id, server.url)
        code = authorize_in_browser(hook_call(box, conn_id, "get_authorization_url()"))
        hook_call(box, conn_id, f"exchange_code({code!r})")
        yield server


def add_orangelogic_connection(sandbox: AirflowSandbox, conn_id: str, host: str, **extra) -> None:
    sandbox.add_connection(
        conn_id,
        conn_type="orangelogic",
        host=host,
        login=CLIENT_ID,
        password=CLIENT_SECRET,
        extra={"redirect_uri": REDIRECT_URI, **extra},
    )


def hook_call(sandbox: AirflowSandbox, conn_id: str, expression: str, env: dict | None = None):
    """Evaluate ``expression`` on an OrangeLogicHook outside any task; returns its JSON value."""
    code = textwrap.dedent(
        f"""
        import json
        from airflow_provider_orangelogic.hooks.orangelogic import OrangeLogicHook
        hook = OrangeLogicHook({conn_id!r})
        print("RESULT=" + json.dumps(hook.{expression}))
        """
    )
    out = sandbox.python(code, env=env).stdout
    line = [ln for ln in out.splitlines() if ln.startswith("RESULT=")][-1]
    return json.loads(line.removeprefix("RESULT="))


def authorize_in_browser(url: str) -> str:
    """What a person does: open the URL, approve, copy the whole redirect address (it carries code and state)."""
    return follow_authorization(url, timeout=120).location


def db_rows(sandbox: AirflowSandbox, table: str) -> list[tuple]:
    with sqlite3.connect(sandbox.home / "airflow.db") as db:
        return db.execute(f"SELECT * FROM {table}").fetchall()


def db_text(sandbox: AirflowSandbox, exclude: tuple[str, ...] = ()) -> str:
    """Every row of every table of the metadata DB as text, for secret scans."""
    with sqlite3.connect(sandbox.home / "airflow.db") as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        parts = []
        for table in tables:
            if table in exclude:
                continue
            for row in db.execute(f"SELECT * FROM {table}"):
                parts.append(
                    f"{table}: "
                    + " | ".join(v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in row)
                )
    return "\n".join(parts)


def latest_xcom(sandbox: AirflowSandbox, dag_id: str, key: str = "return_value"):
    """The newest XCom ``key`` of ``dag_id``, decoded (XComs are stored as JSON, sometimes JSON in JSON)."""
    with sqlite3.connect(sandbox.home / "airflow.db") as db:
        row = db.execute(
            "SELECT value FROM xcom WHERE dag_id = ? AND key = ? ORDER BY timestamp DESC LIMIT 1", (dag_id, key)
        ).fetchone()
    assert row is not None, f"no XCom {key!r} of {dag_id}"
    value = json.loads(row[0]) if isinstance(row[0], (str, bytes)) else row[0]
    return json.loads(value) if isinstance(value, str) else value
