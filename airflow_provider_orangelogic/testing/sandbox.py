"""A throwaway Airflow installation (SQLite metadata DB in a temporary AIRFLOW_HOME) for tests.

Used by this project's integration tests and main-job script, and usable for testing your own
DAGs against the stand-in: it runs the real ``airflow`` CLI in subprocesses, so DAGs, Variables
and Connections go through Airflow exactly as in a deployment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# How long an Airflow process waits for SQLite's write lock before "database is locked" (sqlite3's
# default is 5 s). On a busy machine a writer can hold the lock longer than that, and a scheduler or
# DAG processor that gets the error exits. For [database] sql_alchemy_connect_args(_async), which
# take an import path: SQLITE_CONNECT_ARGS_PATH.
SQLITE_CONNECT_ARGS = {"timeout": 120}
SQLITE_CONNECT_ARGS_PATH = f"{__name__}.SQLITE_CONNECT_ARGS"
SQLITE_SETTINGS = {
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS": SQLITE_CONNECT_ARGS_PATH,
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS_ASYNC": SQLITE_CONNECT_ARGS_PATH,
}


class AirflowCommandError(RuntimeError):
    def __init__(self, args: list[str], result: subprocess.CompletedProcess[str]) -> None:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-40:])
        super().__init__(f"{' '.join(args[:3])[:80]} ... exited {result.returncode}:\n{tail}")
        self.result = result


class AirflowSandbox:
    """An AIRFLOW_HOME with its own SQLite DB, DAG folder and Fernet key."""

    def __init__(self, home: str | Path, dags_folder: str | Path, extra_env: Mapping[str, str] | None = None) -> None:
        self.home = Path(home).resolve()
        self.dags_folder = Path(dags_folder).resolve()
        self.home.mkdir(parents=True, exist_ok=True)
        self.extra_env = dict(extra_env or {})
        key_file = self.home / "fernet.key"
        if not key_file.exists():
            from cryptography.fernet import Fernet

            key_file.write_text(Fernet.generate_key().decode())
            key_file.chmod(0o600)
        self.fernet_key = key_file.read_text().strip()

    @property
    def log_folder(self) -> Path:
        return self.home / "logs"

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_"))}
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__FERNET_KEY": self.fernet_key,
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.home / 'airflow.db'}",
                **SQLITE_SETTINGS,
                "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.log_folder),
                "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
                "ORANGELOGIC_LOCK_DIR": str(self.home / "locks"),
                "PYTHONWARNINGS": "ignore",
            }
        )
        env.update(self.extra_env)
        return env

    def airflow(
        self, *args: str, check: bool = True, timeout: float = 600, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run the airflow CLI; ``env`` adds variables for this call only."""
        return self._run(["-m", "airflow", *args], check=check, timeout=timeout, env=env)

    def _run(
        self,
        args: list[str],
        *,
        check: bool,
        timeout: float,
        env: Mapping[str, str] | None = None,
        stdin_text: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(  # noqa: S603 - this interpreter, our own arguments
            [sys.executable, *args],
            env={**self.env, **(env or {})},
            input=stdin_text,
            stdin=None if stdin_text is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AirflowCommandError(args[:4], result)
        return result

    def migrate(self) -> None:
        self.airflow("db", "migrate")

    def add_connection(self, conn_id: str, **fields: Any) -> None:
        """Create or replace a connection in the metadata DB from its JSON form (conn_type, host, ...)."""
        code = (
            "import json, sys\n"
            "from airflow.models.connection import Connection\n"
            "from airflow.utils.session import create_session\n"
            "conn = Connection.from_json(sys.stdin.read(), conn_id=sys.argv[1])\n"
            "with create_session() as session:\n"
            "    session.query(Connection).filter(Connection.conn_id == conn.conn_id).delete()\n"
            "    session.add(conn)\n"
        )
        # The JSON (with the client secret) goes through stdin, never a command line.
        self._run(["-c", code, conn_id], check=True, timeout=300, stdin_text=json.dumps(fields))

    def dags_test(
        self,
        dag_id: str,
        conf: Mapping[str, Any] | None = None,
        check: bool = True,
        timeout: float = 600,
        env: Mapping[str, str] | None = None,
        logical_date: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """``airflow dags test``: one DAG run, executed by Airflow in one process (at ``logical_date``, if given)."""
        args = ["dags", "test", dag_id, *([logical_date] if logical_date else [])]
        if conf is not None:
            args += ["--conf", json.dumps(conf)]
        return self.airflow(*args, check=check, timeout=timeout, env=env)

    def module(
        self, name: str, *args: str, check: bool = True, timeout: float = 300, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``python -m name args...`` with this sandbox's environment (outside any task)."""
        return self._run(["-m", name, *args], check=check, timeout=timeout, env=env)

    def python(
        self, code: str, check: bool = True, timeout: float = 300, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run Python with this sandbox's environment (outside any task), e.g. to read the Variable."""
        return self._run(["-c", code], check=check, timeout=timeout, env=env)
