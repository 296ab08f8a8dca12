"""``python -m airflow_provider_orangelogic status`` against a real metadata DB, as a person or a monitor runs it."""

from __future__ import annotations

import json

import pytest

from airflow_provider_orangelogic.testing.browser import follow_authorization
from tests.integration.conftest import CLIENT_SECRET, add_orangelogic_connection, hook_call

pytestmark = pytest.mark.integration


def test_status_names_each_connection_and_fails_when_one_needs_a_person(sandbox, stand_in):
    add_orangelogic_connection(sandbox, "ol_status_ready", stand_in.url)
    add_orangelogic_connection(sandbox, "ol_status_new", stand_in.url)
    code = follow_authorization(hook_call(sandbox, "ol_status_ready", "get_authorization_url()")).location
    hook_call(sandbox, "ol_status_ready", f"exchange_code({code!r})")

    ready = sandbox.module("airflow_provider_orangelogic", "status", "ol_status_ready", check=False)
    assert ready.returncode == 0, ready.stdout + ready.stderr
    assert ready.stdout.startswith("ol_status_ready: ok - authorization_code - access token until ")

    both = sandbox.module("airflow_provider_orangelogic", "status", check=False)
    lines = {line.split(":")[0]: line for line in both.stdout.splitlines()}
    assert both.returncode == 1
    assert lines["ol_status_new"].startswith("ol_status_new: action needed - No token pair is stored")
    assert "ol_status_ready: ok" in lines["ol_status_ready"]

    as_json = sandbox.module("airflow_provider_orangelogic", "status", "ol_status_ready", "--json")
    assert json.loads(as_json.stdout)["verdict"] == "ok"
    stand_in_secrets = [*stand_in.issued_secrets(), CLIENT_SECRET]
    output = both.stdout + both.stderr + as_json.stdout + as_json.stderr
    assert not [secret for secret in stand_in_secrets if secret in output]
