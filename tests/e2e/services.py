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
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from tests.e2e.processes import ManagedProcess, ProcessSet, free_port, start_process, wait_for

PREREQS_HINT = "run scripts/e2e/prereqs.sh (apt-get install postgresql redis-server)"


# -- PostgreSQL ---------------------------------------------------------------------------------


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


@dataclass
class StandInServer:
    """The stand-in as its own process (``python -m airflow_provider_orangelogic.testing``).

    The client secret is set through the control endpoint after start, so it never appears on a
    command line.
    """

    url: str
    client_id: str
    client_secret: str
    redirect_uri: str
    access_lifetime: float
    refresh_lifetime: float
    server: ManagedProcess

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
        directory.mkdir(parents=True, exist_ok=True)
        port_file = directory / "stand-in.port"
        redirect_uri = "http://127.0.0.1:8080/orangelogic/callback"
        server = start_process(
            "stand-in",
            [
                sys.executable,
                "-m",
                "airflow_provider_orangelogic.testing",
                "--port-file",
                str(port_file),
                "--client-id",
                "e2e-client",
                "--redirect-uri",
                redirect_uri,
                "--access-lifetime",
                str(access_lifetime),
                "--refresh-lifetime",
                str(refresh_lifetime),
                "--catalogue-size",
                "1000",
                "--max-runtime",
                str(int(max_seconds)),
            ],
            env=dict(os.environ),
            cwd=directory,
            log_path=directory / "stand-in.out",
            max_seconds=max_seconds + 30,
        )
        servers.add(server)
        port = wait_for(
            lambda: port_file.read_text().strip() or None if port_file.exists() else None,
            what="the stand-in to write its port",
            timeout=30,
            interval=0.1,
            servers=servers,
        )
        stand_in = cls(
            url=f"http://127.0.0.1:{port}",
            client_id="e2e-client",
            client_secret="e2e-" + secrets.token_urlsafe(24),
            redirect_uri=redirect_uri,
            access_lifetime=access_lifetime,
            refresh_lifetime=refresh_lifetime,
            server=server,
        )
        # strict: single-use refresh tokens, and presenting a spent one revokes the whole grant.
        stand_in._control("POST", "configure", json={"client_secret": stand_in.client_secret, "strict": True})
        return stand_in

    def _control(self, method: str, name: str, **kwargs: Any) -> Any:
        response = requests.request(method, f"{self.url}/_standin/{name}", timeout=30, **kwargs)
        response.raise_for_status()
        return response.json()

    def counters(self) -> dict[str, int]:
        return self._control("GET", "counters")

    def issued_secrets(self) -> list[str]:
        return self._control("GET", "issued")

    def all_secrets(self) -> list[str]:
        """Every code and token the stand-in ever issued, plus the client secret."""
        return [*self.issued_secrets(), self.client_secret]

    def authorize_like_a_browser(self) -> str:
        """Open the authorization URL, "approve", and read ``code`` from the redirect address."""
        state = secrets.token_urlsafe(12)
        query = urlencode(
            {"client_id": self.client_id, "response_type": "code", "redirect_uri": self.redirect_uri, "state": state}
        )
        answer = requests.get(f"{self.url}/oauth2/auth?{query}", allow_redirects=False, timeout=30)
        if answer.status_code != 302:
            raise RuntimeError(f"authorization answered {answer.status_code}, not a redirect: {answer.text[:200]}")
        landing = parse_qs(urlsplit(answer.headers["Location"]).query)
        if landing.get("state") != [state]:
            raise RuntimeError("the redirect carried another state than the one sent (CSRF check)")
        return landing["code"][0]
