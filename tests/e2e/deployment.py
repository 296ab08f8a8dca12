"""Real Airflow 3 deployments on 127.0.0.1: an embedded one (LocalExecutor, SQLite) and a Celery one
(PostgreSQL metadata DB, Redis broker, two workers standing for two hosts).

Each "host" is an AirflowHost: its own AIRFLOW_HOME, copy of the DAG files, log folder, working
directory, TMPDIR and ORANGELOGIC_LOCK_DIR (the provider's host-local refresh lock). Workers get no
metadata DB, Fernet key or JWT secret: they reach Airflow only through the API server (execution
API) and the broker, as separate machines would.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet

from airflow_provider_orangelogic.testing.sandbox import SQLITE_SETTINGS
from tests.e2e.processes import ManagedProcess, ProcessSet, free_port, start_process, wait_for
from tests.e2e.rest import AirflowApi

REPO = Path(__file__).resolve().parents[2]
DAG_SOURCES = (REPO / "dags_examples", Path(__file__).resolve().parent / "dags")
ADMIN_USER = "e2e-admin"
# The refresh DAG's schedule, shortened from 30 minutes so that runs see many access-token expiries.
REFRESH_INTERVAL_SECONDS = 5
CONSUMER_SLOTS = 40  # LocalExecutor parallelism, and the Celery slots of both workers together
# A task's calls to the execution API (Variables, heartbeats) time out after 5 s by default; on a busy
# machine the SQLite API server answered later than that and consumers were retried (7 in one loaded run).
# Airflow's config says to raise it under high load; a hang is still bounded by the scenario's deadline.
TASK_SETTINGS = {"AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "60"}


@dataclass(frozen=True)
class DeploymentSecrets:
    """Shared by the components that need them, and only by those (never by a Celery worker)."""

    fernet_key: str
    jwt_secret: str
    api_secret_key: str
    admin_password: str

    @classmethod
    def generate(cls) -> DeploymentSecrets:
        return cls(
            fernet_key=Fernet.generate_key().decode(),
            jwt_secret=secrets.token_urlsafe(64),
            api_secret_key=secrets.token_urlsafe(32),
            admin_password=secrets.token_urlsafe(18),
        )


class AirflowHost:
    """One machine of a deployment, as far as Airflow can tell."""

    def __init__(self, root: Path, name: str, settings: Mapping[str, str]) -> None:
        self.name = name
        self.root = root / name
        self.home, self.dags, self.logs = self.root / "airflow", self.root / "dags", self.root / "logs"
        self.tmp, self.locks, self.work = self.root / "tmp", self.root / "locks", self.root / "work"
        for directory in (self.home, self.dags, self.logs, self.tmp, self.locks, self.work):
            directory.mkdir(parents=True, exist_ok=True)
        self.locks.chmod(0o700)  # the provider refuses a lock directory open to other users
        self._copy_dags()
        self.settings = dict(settings)

    def _copy_dags(self) -> None:
        # A copy per host, as a deployment tool would ship them; same relative paths everywhere.
        for source in DAG_SOURCES:
            for dag_file in sorted(source.glob("*.py")):
                shutil.copy2(dag_file, self.dags / dag_file.name)

    @property
    def env(self) -> dict[str, str]:
        inherited = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_", "ORANGELOGIC_"))
            and key not in ("AIRFLOW_HOME", "TMPDIR")
        }
        return {
            **inherited,
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.logs),
            "AIRFLOW__ORANGELOGIC__REFRESH_CONN_IDS": "orangelogic_default",
            "AIRFLOW__ORANGELOGIC__REFRESH_INTERVAL_SECONDS": str(REFRESH_INTERVAL_SECONDS),
            "TMPDIR": str(self.tmp),
            "ORANGELOGIC_LOCK_DIR": str(self.locks),
            # Read by the load DAG, so that each consumer can say which "host" ran it.
            "ORANGELOGIC_E2E_HOST": self.name,
            **self.settings,
        }

    def start(self, servers: ProcessSet, component: str, *args: str, max_seconds: float) -> ManagedProcess:
        process = start_process(
            f"{self.name} {component}",
            [sys.executable, "-m", "airflow", *args],
            env=self.env,
            cwd=self.work,
            log_path=self.logs / f"{component}.out",
            max_seconds=max_seconds,
        )
        return servers.add(process)

    def run(self, argv: list[str], *, timeout: float, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run a short command with this host's environment; raise with its output tail on failure."""
        result = subprocess.run(
            argv,
            env=self.env,
            cwd=self.work,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
            raise RuntimeError(f"{argv[:4]} on {self.name} exited {result.returncode}:\n{tail}")
        return result

    def airflow(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return self.run([sys.executable, "-m", "airflow", *args], timeout=timeout)

    def python_json(self, code: str, *, timeout: float = 300) -> object:
        """Run ``code`` outside any task; it prints one line ``RESULT=<json>``, which is returned."""
        output = self.run([sys.executable, "-c", code], timeout=timeout).stdout
        line = [text for text in output.splitlines() if text.startswith("RESULT=")][-1]
        return json.loads(line.removeprefix("RESULT="))


@dataclass
class Deployment:
    """A running deployment: the control-plane host, the worker hosts, and the REST API user."""

    name: str
    shape: str
    control: AirflowHost
    workers: list[AirflowHost]
    api: AirflowApi
    servers: ProcessSet
    service_logs: list[Path] = field(default_factory=list)

    @property
    def hosts(self) -> list[AirflowHost]:
        return [self.control, *self.workers]

    @property
    def log_folders(self) -> list[Path]:
        return [host.logs for host in self.hosts] + self.service_logs


def control_plane_settings(
    *, api_port: int, secrets_: DeploymentSecrets, database_url: str, executor: str, passwords_file: Path
) -> dict[str, str]:
    """What the API server, scheduler and DAG processor share (they all use the metadata DB)."""
    return {
        "AIRFLOW__CORE__EXECUTOR": executor,
        "AIRFLOW__CORE__PARALLELISM": str(CONSUMER_SLOTS),
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(CONSUMER_SLOTS),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database_url,
        "AIRFLOW__CORE__FERNET_KEY": secrets_.fernet_key,
        # The scheduler signs the tokens tasks use on the execution API; the API server checks them.
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets_.jwt_secret,
        "AIRFLOW__API__SECRET_KEY": secrets_.api_secret_key,
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__WORKERS": "2",
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        **TASK_SETTINGS,  # LocalExecutor runs tasks on the control plane
        # SimpleAuthManager with one admin whose password we chose, instead of a generated one.
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file),
    }


def write_passwords_file(path: Path, secrets_: DeploymentSecrets) -> Path:
    path.write_text(json.dumps({ADMIN_USER: secrets_.admin_password}) + "\n")
    path.chmod(0o600)
    return path


def start_control_plane(host: AirflowHost, servers: ProcessSet, *, max_seconds: float) -> None:
    """Migrate the metadata DB, then start the API server, the scheduler and the DAG processor."""
    host.airflow("db", "migrate", timeout=600)
    host.start(servers, "api-server", "api-server", max_seconds=max_seconds)
    # --skip-serve-logs: the log server listens on every interface, and servers here stay on loopback.
    host.start(servers, "scheduler", "scheduler", "--skip-serve-logs", max_seconds=max_seconds)
    host.start(servers, "dag-processor", "dag-processor", max_seconds=max_seconds)


def connect_api(api_port: int, secrets_: DeploymentSecrets, servers: ProcessSet) -> AirflowApi:
    api = AirflowApi(f"http://127.0.0.1:{api_port}", ADMIN_USER, secrets_.admin_password)
    wait_for(api.healthy, what="the API server to report a healthy metadata DB", timeout=180, servers=servers)
    api.log_in()
    return api


def start_embedded(root: Path, servers: ProcessSet, *, max_seconds: float) -> Deployment:
    """API server, scheduler and DAG processor as separate processes; LocalExecutor on SQLite."""
    secrets_ = DeploymentSecrets.generate()
    api_port = free_port()
    root.mkdir(parents=True, exist_ok=True)
    settings = control_plane_settings(
        api_port=api_port,
        secrets_=secrets_,
        database_url=f"sqlite:///{root / 'airflow.db'}",
        executor="LocalExecutor",
        passwords_file=write_passwords_file(root / "passwords.json", secrets_),
    )
    settings.update(SQLITE_SETTINGS)  # wait for the write lock: a DAG processor died of it on a busy machine
    host = AirflowHost(root, "embedded", settings)
    start_control_plane(host, servers, max_seconds=max_seconds)
    return Deployment(
        name="embedded",
        shape=f"LocalExecutor (parallelism {CONSUMER_SLOTS}), SQLite; api-server, scheduler, dag-processor",
        control=host,
        workers=[],
        api=connect_api(api_port, secrets_, servers),
        servers=servers,
    )


def start_celery(
    root: Path, servers: ProcessSet, *, database_url: str, broker_url: str, result_backend: str, max_seconds: float
) -> Deployment:
    """A control-plane host plus two Celery workers that share nothing but the API server and broker."""
    secrets_ = DeploymentSecrets.generate()
    api_port = free_port()
    root.mkdir(parents=True, exist_ok=True)
    celery = {
        "AIRFLOW__CELERY__BROKER_URL": broker_url,
        "AIRFLOW__CELERY__RESULT_BACKEND": result_backend,
    }
    settings = control_plane_settings(
        api_port=api_port,
        secrets_=secrets_,
        database_url=database_url,
        executor="CeleryExecutor",
        passwords_file=write_passwords_file(root / "passwords.json", secrets_),
    )
    control = AirflowHost(root, "control", {**settings, **celery})
    start_control_plane(control, servers, max_seconds=max_seconds)
    worker_settings = {
        **celery,
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        **TASK_SETTINGS,
    }
    workers = [AirflowHost(root, name, worker_settings) for name in ("worker-a", "worker-b")]
    for worker in workers:
        worker.start(
            servers,
            "celery-worker",
            "celery",
            "worker",
            "--celery-hostname",
            f"{worker.name}@e2e",
            "--concurrency",
            str(CONSUMER_SLOTS // len(workers)),
            "--skip-serve-logs",
            max_seconds=max_seconds,
        )
    return Deployment(
        name="celery",
        shape=(
            f"CeleryExecutor, 2 workers x {CONSUMER_SLOTS // len(workers)} slots (separate homes, TMPDIR, lock dirs, "
            "hostnames), Redis broker, PostgreSQL metadata DB"
        ),
        control=control,
        workers=workers,
        api=connect_api(api_port, secrets_, servers),
        servers=servers,
    )
