"""The three example DAGs run by Airflow itself (`airflow dags test`) against the stand-in.

One real metadata DB (SQLite), real Connections and Variables, HTTP over real sockets. The
lifecycle runs once per module; each test then asserts one thing a user would notice.
"""

from __future__ import annotations

import json
import math

import pendulum
import pytest

from tests.integration.conftest import (
    ACCESS_LIFETIME,
    CLIENT_SECRET,
    add_orangelogic_connection,
    authorize_in_browser,
    db_rows,
    db_text,
    hook_call,
)

pytestmark = pytest.mark.integration
CONNECTIONS = ("orangelogic_default", "orangelogic_second")


@pytest.fixture(scope="module")
def lifecycle(sandbox, stand_in):
    """Authorize two connections, exchange, force a refresh, search; keep every output.

    The refresh is forced (the DAG's ``force`` param) rather than waited for, and every token lives
    hours, so nothing here depends on how long each ``airflow dags test`` takes.
    """
    stand_in.reset()
    outputs = []
    for conn_id in CONNECTIONS:
        add_orangelogic_connection(sandbox, conn_id, stand_in.url)
        url = hook_call(sandbox, conn_id, "get_authorization_url()")
        code = authorize_in_browser(url)
        run = sandbox.dags_test("orangelogic_token_exchange", {"code": code, "conn_id": conn_id})
        outputs.append(run.stdout + run.stderr)
    after_exchange = {c: hook_call(sandbox, c, "token_status()") for c in CONNECTIONS}
    refresh = sandbox.dags_test(
        "orangelogic_token_refresh",
        {"force": True},
        env={"AIRFLOW__ORANGELOGIC__REFRESH_CONN_IDS": ",".join(CONNECTIONS)},
    )
    outputs.append(refresh.stdout + refresh.stderr)
    after_refresh = {c: hook_call(sandbox, c, "token_status()") for c in CONNECTIONS}
    search = sandbox.dags_test("orangelogic_search_example", {"query": "MediaType:Image", "page_size": 40})
    outputs.append(search.stdout + search.stderr)
    return {
        "outputs": outputs,
        "after_exchange": after_exchange,
        "after_refresh": after_refresh,
        "counters": stand_in.counters(),
        "secrets": [*stand_in.issued_secrets(), CLIENT_SECRET],
    }


def lifetime(status: dict, expiry: str) -> float:
    """Seconds from when the pair was obtained to ``expiry`` (a field of token_status())."""
    return (pendulum.parse(status[expiry]) - pendulum.parse(status["obtained_at"])).total_seconds()


def test_exchange_stores_a_pair_per_connection(lifecycle, stand_in):
    for conn_id in CONNECTIONS:
        status = lifecycle["after_exchange"][conn_id]
        assert status["token_variable"] == f"orangelogic_token_{conn_id}"
        assert status["obtained_by"] == "authorization_code"
        assert status["host"] == stand_in.url
        assert status["access_token_valid"] and status["refresh_token_valid"]
        # Lifetimes from the answer (expires_in) and the 30-day default, measured from obtained_at:
        # exact, however long the runs in between took.
        assert lifetime(status, "access_token_expires_at") == ACCESS_LIFETIME
        assert lifetime(status, "refresh_token_expires_at") == 30 * 86400


def test_refresh_dag_refreshes_every_configured_connection(lifecycle):
    assert lifecycle["counters"]["refresh_token_grants"] == len(CONNECTIONS)
    for conn_id in CONNECTIONS:
        before, after = lifecycle["after_exchange"][conn_id], lifecycle["after_refresh"][conn_id]
        assert after["obtained_by"] == "refresh_token"
        assert after["obtained_at"] > before["obtained_at"]
        assert lifetime(after, "access_token_expires_at") == ACCESS_LIFETIME
        assert after["access_token_expires_at"] > before["access_token_expires_at"]
        assert after["refresh_token_expires_at"] >= before["refresh_token_expires_at"]


def test_search_pipeline_pages_through_every_match(lifecycle, sandbox):
    images = 1000 // 4  # the stand-in's catalogue cycles Image, Video, Audio, Document
    assert lifecycle["counters"]["search_pages_served"] == math.ceil(images / 40) + (images % 40 == 0)
    rows = [r for r in db_rows(sandbox, "xcom") if "orangelogic_search_example" in map(str, r)]
    summaries = [json.loads(v) for r in rows for v in r if isinstance(v, str) and v.startswith("{")]
    summary = next(s for s in summaries if "assets" in s)
    assert summary["assets"] == images and summary["media_types"] == {"Image": images}
    assert summary["pages"] == math.ceil(images / 40)


def test_strict_server_saw_no_reuse(lifecycle):
    assert lifecycle["counters"]["refresh_token_reuses"] == 0
    assert lifecycle["counters"]["grants_revoked"] == 0


def test_no_secret_in_logs_xcoms_rendered_fields_or_db(lifecycle, sandbox):
    # Two tables keep what the person typed when triggering the exchange DAG, by Airflow's design:
    # dag_run.conf, and the audit log (for `airflow dags test --conf`). That is the single-use,
    # already spent authorization code; docs/security.md says so. Everything else is scanned.
    haystacks = {
        "task output": "\n".join(lifecycle["outputs"]),
        "metadata DB": db_text(sandbox, exclude=("dag_run", "log")),
        "log files": "\n".join(p.read_text(errors="replace") for p in sandbox.log_folder.rglob("*") if p.is_file()),
    }
    for where, text in haystacks.items():
        # Report where, never the secret itself: this output is test output too.
        places = {line.split(":", 1)[0] for line in text.splitlines() for s in lifecycle["secrets"] if s in line}
        assert not places, f"secret(s) found in {where}: {sorted(places)[:5]}"


def test_code_is_masked_in_the_rendered_template_view(lifecycle, sandbox):
    rendered = [
        r for r in db_rows(sandbox, "rendered_task_instance_fields") if "orangelogic_token_exchange" in map(str, r)
    ]
    assert rendered
    for row in rendered:
        text = " ".join(map(str, row))
        assert '"code": "***"' in text


def test_variable_is_encrypted_and_described(lifecycle, sandbox):
    rows = {r[1]: r for r in db_rows(sandbox, "variable")}
    for conn_id in CONNECTIONS:
        row = rows[f"orangelogic_token_{conn_id}"]
        assert "managed by airflow-provider-orangelogic" in " ".join(map(str, row))
        assert 1 in row or True in row  # is_encrypted
        assert "access_token" not in " ".join(map(str, row))
