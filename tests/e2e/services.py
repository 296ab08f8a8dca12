"""The servers around Airflow: a throwaway PostgreSQL cluster, Redis, and the Orange Logic stand-in.

All of them listen on 127.0.0.1 only, on free ports, and are started as children of the test run
(see processes.py). scripts/e2e/prereqs.sh installs the PostgreSQL and Redis binaries.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from airflow_provider_orangelogic.core import endpoints
from airflow_provider_orangelogic.testing.browser import authorize_like_a_browser
from airflow_provider_orangelogic.testing.process import StandInProcess
from tests.e2e.processes import ManagedProcess, ProcessSet, free_port, start_process, wait_for

PREREQS_HINT = "run scripts/e2e/prereqs.sh (apt-get install postgresql redis-server)"


# -- PostgreSQL ---------------------------------------------------------------------------------


def have_celery_services() -> bool:
    """Whether the Celery deployment's servers (PostgreSQL's initdb, redis-server) are installed."""
    try:
        postgres_bin_dir()
    except RuntimeError:
        return False
    return shutil.which("redis-server") is not None


def postgres_bin_dir() -> Path:
    """Where initdb and postgres live: on PATH, or Debian's versioned directory (newest first)."""
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0,
        reverse=True,
    )
    if not candidates:
        raise RuntimeError(f"PostgreSQL server binaries (initdb) not found; {PREREQS_HINT}")
    return Path(candidates[0]).parent


def _cluster_owner() -> str | None:
    """initdb refuses to run as root: use the ``postgres`` account then (``nobody`` if there is none)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise RuntimeError("running as root, but there is no 'postgres' or 'nobody' account to own the cluster")


@dataclass
class PostgresCluster:
    """A PostgreSQL cluster in a temporary directory, with one database ``airflow``."""

    root: Path
    port: int
    password: str
    server: ManagedProcess

    @property
    def sqlalchemy_url(self) -> str:
        return f"postgresql+psycopg2://airflow:{self.password}@127.0.0.1:{self.port}/airflow"

    @classmethod
    def start(cls, servers: ProcessSet, *, log_dir: Path, max_seconds: float) -> PostgresCluster:
        bin_dir = postgres_bin_dir()
        owner = _cluster_owner()
        # Not under pytest's tmp_path: that is private to root, and the cluster's owner must reach it.
        root = Path(tempfile.mkdtemp(prefix="orangelogic-e2e-pg-"))
        password = secrets.token_urlsafe(18)
        password_file = root / "password"
        password_file.write_text(password + "\n")
        password_file.chmod(0o600)
        if owner is not None:
            account = pwd.getpwnam(owner)
            for path in (root, password_file):
                os.chown(path, account.pw_uid, account.pw_gid)
        _initdb(bin_dir, root, password_file, owner)
        port = free_port()
        server = start_process(
            "postgres",
            [
                str(bin_dir / "postgres"),
                "-D",
                str(root / "data"),
                "-p",
                str(port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "unix_socket_directories=",  # TCP on loopback only
                "-c",
                "max_connections=200",
                # A throwaway cluster: durability only costs time here.
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ],
            env={"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8"},
            cwd=root,
            log_path=log_dir / "postgres.out",
            max_seconds=max_seconds,
            user=owner,
            stop_signal=signal.SIGINT,  # "fast" shutdown: do not wait for clients to disconnect
        )
        servers.add(server)
        cluster = cls(root, port, password, server)
        wait_for(cluster._create_database, what="PostgreSQL to accept connections", timeout=60, servers=servers)
        return cluster

    def _create_database(self) -> bool:
        import psycopg2

        connection = psycopg2.connect(
            host="127.0.0.1", port=self.port, user="airflow", password=self.password, dbname="postgres"
        )
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute("CREATE DATABASE airflow")
        finally:
            connection.close()
        return True

    def remove_files(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _initdb(bin_dir: Path, root: Path, password_file: Path, owner: str | None) -> None:
    result = subprocess.run(
        [
            str(bin_dir / "initdb"),
            "-D",
            str(root / "data"),
            "-U",
            "airflow",
            f"--pwfile={password_file}",
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        ],
        cwd=root,
        user=owner,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"initdb failed ({result.returncode}):\n{result.stdout}{result.stderr}")


# -- Redis --------------------------------------------------------------------------------------


@dataclass
class RedisServer:
    """A Redis without persistence: the Celery broker and result backend of one deployment."""

    port: int
    password: str
    server: ManagedProcess

    def url(self, database: int) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/{database}"

    @classmethod
    def start(cls, servers: ProcessSet, *, directory: Path, max_seconds: float) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(f"redis-server not found; {PREREQS_HINT}")
        directory.mkdir(parents=True, exist_ok=True)
        port, password = free_port(), secrets.token_urlsafe(18)
        config = directory / "redis.conf"
        # The password goes in a file, not on a command line anyone can read in ps.
        config.write_text(
            f"port {port}\nbind 127.0.0.1\nprotected-mode yes\nrequirepass {password}\n"
            f'save ""\nappendonly no\ndir {directory}\ndaemonize no\n'
        )
        config.chmod(0o600)
        server = start_process(
            "redis",
            [binary, str(config)],
            env={"PATH": os.environ.get("PATH", "")},
            cwd=directory,
            log_path=directory / "redis.out",
            max_seconds=max_seconds,
        )
        servers.add(server)
        redis = cls(port, password, server)
        wait_for(redis._ping, what="Redis to answer PING", timeout=30, servers=servers)
        return redis

    def _ping(self) -> bool | None:
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port, password=self.password, socket_timeout=2)
        try:
            return True if client.ping() else None
        finally:
            client.close()


# -- the Orange Logic stand-in ------------------------------------------------------------------

STAND_IN_CLIENT_ID = "e2e-client"
STAND_IN_REDIRECT_URI = "http://127.0.0.1:8080/orangelogic/callback"


@dataclass
class _StandInEntry(ManagedProcess):
    """The stand-in among the servers: stopped as a tree like the others, then its helper closed."""

    helper: StandInProcess | None = None

    def stop(self, grace: float = 30.0) -> None:
        super().stop(grace)
        if self.helper is not None:
            self.helper.stop()  # the process is gone: this closes its control session and temporary files


@dataclass
class StandInServer:
    """The stand-in as its own process: the package's StandInProcess, run like the other servers.

    In a session of its own under timeout(1), stopping by itself after ``max_seconds``. Strict (single-use
    refresh tokens; presenting a spent one revokes the whole grant). Its client secret is set through the
    control endpoint, so it never appears on a command line.
    """

    process: StandInProcess
    client_secret: str
    access_lifetime: float
    refresh_lifetime: float
    client_id: str = STAND_IN_CLIENT_ID

    @property
    def url(self) -> str:
        return self.process.url

    @property
    def redirect_uri(self) -> str:
        return self.process.redirect_uri

    @classmethod
    def start(
        cls,
        servers: ProcessSet,
        *,
        directory: Path,
        access_lifetime: float,
        refresh_lifetime: float,
        max_seconds: float,
    ) -> StandInServer:
        client_secret = "e2e-" + secrets.token_urlsafe(24)
        log_path = directory / "stand-in.out"
        process = StandInProcess(
            client_id=STAND_IN_CLIENT_ID,
            client_secret=client_secret,
            redirect_uri=STAND_IN_REDIRECT_URI,
            catalogue_size=1000,
            access_lifetime=access_lifetime,
            refresh_lifetime=refresh_lifetime,
            max_runtime=max_seconds,
            lenient=False,
            log_path=log_path,
            new_session=True,
            timeout_grace=30,
        )
        servers.add(_StandInEntry("stand-in", process.process, log_path, helper=process))
        return cls(process, client_secret, access_lifetime, refresh_lifetime)

    def counters(self) -> dict[str, int]:
        return self.process.counters()

    def issued_secrets(self) -> list[str]:
        return self.process.issued_secrets()

    def all_secrets(self) -> list[str]:
        """Every code and token the stand-in ever issued, plus the client secret."""
        return [*self.issued_secrets(), self.client_secret]

    def authorize_like_a_browser(self) -> str:
        """Open the authorization URL, "approve", and read ``code`` from the redirect address (state checked)."""
        query = urlencode(
            {
                "client_id": self.client_id,
                "response_type": "code",
                "redirect_uri": self.redirect_uri,
                "state": secrets.token_urlsafe(12),
            }
        )
        return authorize_like_a_browser(f"{self.url}{endpoints.AUTHORIZE}?{query}")
