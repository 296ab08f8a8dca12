"""Token status of every Orange Logic connection, for a person or a monitoring check.

``python -m airflow_provider_orangelogic status`` prints one line per connection (no secret) and exits
1 when any connection needs a person (re-authorization, a missing pair, a broken connection), so it
can run from cron or a monitoring agent with the Airflow environment (``AIRFLOW_HOME`` etc.) set.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from airflow_provider_orangelogic.core.fields import CONN_TYPE

OK, DUE, ACTION = "ok", "due for refresh", "action needed"


def orangelogic_conn_ids() -> list[str]:
    """Ids of the connections of our type in the metadata DB and in ``AIRFLOW_CONN_*`` variables."""
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session

    with create_session() as session:
        ids = {row[0] for row in session.query(Connection.conn_id).filter(Connection.conn_type == CONN_TYPE)}
    for name in os.environ:
        if name.startswith("AIRFLOW_CONN_"):
            conn_id = name.removeprefix("AIRFLOW_CONN_").lower()
            try:
                if Connection.get_connection_from_secrets(conn_id).conn_type == CONN_TYPE:
                    ids.add(conn_id)
            except Exception:  # noqa: S112 - a broken foreign connection is not ours to report
                continue
    return sorted(ids)


def connection_status(conn_id: str) -> dict[str, Any]:
    """The hook's ``token_status`` plus a verdict: ok, due for refresh, or action needed (and why)."""
    from airflow_provider_orangelogic.core.errors import OrangeLogicError
    from airflow_provider_orangelogic.hooks.orangelogic import OrangeLogicHook

    try:
        status = OrangeLogicHook(conn_id).token_status()
    except OrangeLogicError as err:
        return {"conn_id": conn_id, "verdict": ACTION, "problem": str(err)}
    if not status.get("refresh_token_valid", True):
        return {**status, "verdict": ACTION, "problem": "the refresh token expired: authorize again"}
    if not status.get("access_token_valid", True):
        return {**status, "verdict": DUE, "problem": "the access token expired; the refresh DAG renews it"}
    return {**status, "verdict": DUE if status.get("needs_refresh") else OK}


def _line(status: dict[str, Any]) -> str:
    parts = [f"{status['conn_id']}: {status['verdict']}"]
    if "auth_mode" in status:
        parts.append(status["auth_mode"])
    if status.get("access_token_expires_at"):
        parts.append(f"access token until {status['access_token_expires_at']}")
    if status.get("auth_mode") == "authorization_code" and status.get("refresh_token_expires_at"):
        parts.append(f"refresh token until {status['refresh_token_expires_at']}")
    if status.get("problem"):
        parts.append(status["problem"])
    return " - ".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m airflow_provider_orangelogic", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    status = commands.add_parser("status", help="token status of every Orange Logic connection")
    status.add_argument("conn_ids", nargs="*", help="connections to check (default: every orangelogic connection)")
    status.add_argument("--json", action="store_true", help="print one JSON object per line")
    args = parser.parse_args(argv)

    conn_ids = args.conn_ids or orangelogic_conn_ids()
    if not conn_ids:
        print("No connection of type orangelogic found.")
        return 0
    # Stdout is for the status lines only (a monitor parses them): whatever Airflow or the hook logs while
    # reading the connections goes to stderr.
    with contextlib.redirect_stdout(sys.stderr):
        results = [connection_status(conn_id) for conn_id in conn_ids]
    for result in results:
        print(json.dumps(result) if args.json else _line(result))
    return 1 if any(result["verdict"] == ACTION for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
