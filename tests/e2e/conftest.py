"""Fixtures of the end-to-end suite: one running deployment at a time, with its finished load run.

``deployment_run`` is module scoped and parametrized, so pytest runs every test against the
embedded deployment, stops it, then starts the Celery one. The figures of both runs are printed
as a table at the end of the pytest output (tests/conftest.py, which also brings them back from
the pytest-xdist worker that ran this suite).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.deployment import Deployment, start_celery, start_embedded
from tests.e2e.figures import PUBLISHED
from tests.e2e.processes import ProcessSet
from tests.e2e.scenario import DeploymentRun, LoadPlan, run_scenario
from tests.e2e.services import PREREQS_HINT, PostgresCluster, RedisServer, StandInServer, have_celery_services
from tests.prereqs import require

# Upper bound on each server's life (timeout(1)); a deployment's whole run takes about 5 minutes.
SERVER_BUDGET_SECONDS = 1500
ACCESS_LIFETIME = 20.0
REFRESH_LIFETIME = 120.0


def load_plan() -> LoadPlan:
    # ORANGELOGIC_E2E_SECONDS shortens the consumers' loops for a quick local try; the assertion
    # about the refresh-token lifetime needs the default (the 4-token target holds either way).
    seconds = float(os.environ.get("ORANGELOGIC_E2E_SECONDS", LoadPlan.seconds))
    return LoadPlan(seconds=seconds)


def start_deployment(kind: str, root: Path, servers: ProcessSet, cleanups: list[PostgresCluster]) -> Deployment:
    if kind == "embedded":
        return start_embedded(root, servers, max_seconds=SERVER_BUDGET_SECONDS)
    require("e2e", have_celery_services(), "PostgreSQL server and redis-server", PREREQS_HINT)
    services = root / "services"
    postgres = PostgresCluster.start(servers, log_dir=services, max_seconds=SERVER_BUDGET_SECONDS)
    cleanups.append(postgres)
    redis = RedisServer.start(servers, directory=services / "redis", max_seconds=SERVER_BUDGET_SECONDS)
    deployment = start_celery(
        root,
        servers,
        database_url=postgres.sqlalchemy_url,
        broker_url=redis.url(0),
        result_backend=redis.url(1),
        max_seconds=SERVER_BUDGET_SECONDS,
    )
    deployment.service_logs.append(services)
    return deployment


@pytest.fixture(scope="module", params=["embedded", "celery"])
def deployment_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeploymentRun]:
    started = time.monotonic()
    root = tmp_path_factory.mktemp(f"e2e-{request.param}")
    servers, cleanups = ProcessSet(), []
    figures = None
    try:
        stand_in = StandInServer.start(
            servers,
            directory=root / "stand-in",
            access_lifetime=ACCESS_LIFETIME,
            refresh_lifetime=REFRESH_LIFETIME,
            max_seconds=SERVER_BUDGET_SECONDS,
        )
        deployment = start_deployment(request.param, root, servers, cleanups)
        deployment.service_logs.append(root / "stand-in")
        plan = load_plan()
        result = run_scenario(deployment, stand_in, plan)
        figures = result.figures
        PUBLISHED.append(figures)
        yield DeploymentRun(deployment, stand_in, plan, result)
    finally:
        servers.stop_all()
        for postgres in cleanups:
            postgres.remove_files()
        if figures is not None:
            figures.wall_seconds = time.monotonic() - started
