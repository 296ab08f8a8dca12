"""What a user meets around the DAGs: provider registration, the connection form, the Test
button, env-var connections, re-authorization failures and a shadowed Variable."""

from __future__ import annotations

import json
import socket

import pytest

from airflow_provider_orangelogic.core import fields
from tests.integration.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    add_orangelogic_connection,
    authorize_in_browser,
    db_rows,
    hook_call,
)

pytestmark = pytest.mark.integration


def authorized_connection(sandbox, stand_in, conn_id, **extra):
    """A connection with a stored pair, exchanged through the hook outside any task."""
    add_orangelogic_connection(sandbox, conn_id, stand_in.url, **extra)
    address = authorize_in_browser(hook_call(sandbox, conn_id, "get_authorization_url()"))
    hook_call(sandbox, conn_id, f"exchange_code({address!r})")


def variable_value(sandbox, key):
    return sandbox.python(f"from airflow.models.variable import Variable; print(Variable.get({key!r}))").stdout.strip()


def test_provider_and_connection_form_metadata(sandbox):
    listed = sandbox.airflow("providers", "list").stdout
    assert "airflow-provider-orangelogic" in listed
    code = (
        "import json; from airflow.providers_manager import ProvidersManager as P; p = P(); "
        "w = {k: v.field for k, v in p.connection_form_widgets.items() if k.startswith('extra__orangelogic__')}; "
        "print(json.dumps({'behaviour': p.field_behaviours['orangelogic'], 'widgets': w, "
        "'hook': p.hooks['orangelogic'].hook_class_name}))"
    )
    meta = json.loads(sandbox.python(code).stdout.strip().splitlines()[-1])
    assert meta["hook"] == "airflow_provider_orangelogic.hooks.orangelogic.OrangeLogicHook"
    behaviour = fields.ui_field_behaviour()
    assert meta["behaviour"]["hidden_fields"] == behaviour["hidden_fields"] == ["schema", "port"]
    assert meta["behaviour"]["relabeling"] == behaviour["relabeling"]
    widgets = meta["widgets"]
    # Exactly the declared extra fields, each with its label, schema and (unmasked) default.
    assert sorted(widgets) == sorted(fields.LEGACY_PREFIX + name for name in fields.EXTRA_FIELD_NAMES)
    for declared in fields.EXTRA_FIELDS:
        widget = widgets[fields.LEGACY_PREFIX + declared.name]
        assert widget["schema"] == {**fields.json_schema(declared), "title": declared.label}, declared.name
        assert widget["value"] == (None if declared.masked else declared.default), declared.name
    assert widgets["extra__orangelogic__token_request_encoding"]["schema"]["enum"] == ["form", "json"]
    assert widgets["extra__orangelogic__timeout"]["value"] == 30


def test_connection_form_as_the_ui_receives_it(sandbox):
    """What the API server sends the connection form (Airflow 3.2+ HookMetaService), read as a person would."""
    code = (
        "import json; from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService as H\n"
        "(meta,) = [m for m in H.hook_meta_data() if m.connection_type == 'orangelogic']\n"
        "print('RESULT=' + json.dumps(meta.model_dump(mode='json')))\n"
    )
    out = sandbox.python(code).stdout
    meta = json.loads(next(ln for ln in out.splitlines() if ln.startswith("RESULT=")).removeprefix("RESULT="))
    extra, standard = meta["extra_fields"], meta["standard_fields"]
    encoding = extra["token_request_encoding"]
    # Two choices, no "null" one; nothing pre-selected (a masked name would show "***"), the default named.
    assert encoding["schema"]["enum"] == ["form", "json"] and encoding["value"] is None
    assert encoding["schema"]["values_display"]["form"] == "form (default): application/x-www-form-urlencoded"
    assert encoding["description"].endswith("Default when empty: form.")
    # Redirect URI: under its own heading, saying when it is needed, with the example a placeholder cannot give.
    redirect = extra["redirect_uri"]
    assert redirect["schema"]["section"] == extra["auth_mode"]["schema"]["section"] == fields.AUTHORIZATION_SECTION
    assert redirect["description"].startswith("Needed by auth_mode authorization_code:")
    assert "e.g. https://airflow.example.com/orangelogic/callback" in redirect["description"]
    for name in ("authorize_endpoint", "timeout", "verify_ssl", "allow_insecure_http"):
        assert len(extra[name]["description"]) > 120, name  # more than a restated label
    # Placeholders reach the standard fields only; those are ours.
    assert standard["host"]["placeholder"] == "https://dam.example.com"
    assert standard["host"]["title"] == "Orange Logic URL"


def test_test_button_says_which_part_is_wrong(sandbox, stand_in):
    authorized_connection(sandbox, stand_in, "ol_button")
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]

    def conn(host=stand_in.url, password=CLIENT_SECRET, **extra):
        fields = {"conn_type": "orangelogic", "host": host, "login": CLIENT_ID, "password": password}
        return json.dumps({**fields, "extra": {"redirect_uri": REDIRECT_URI, **extra}})

    cases = {
        "OL_OK": conn(token_variable="orangelogic_token_ol_button"),
        "OL_FRESH": conn(),
        "OL_BADSECRET": conn(password="wrong-secret"),
        "OL_DOWN": conn(host=f"http://127.0.0.1:{closed_port}"),
        "OL_TYPO": conn(host="https://dam.example.com/some/path"),
    }
    env = {f"AIRFLOW_CONN_{name}": value for name, value in cases.items()}
    code = (
        "import json\nfrom airflow_provider_orangelogic.hooks.orangelogic import OrangeLogicHook\n"
        f"print(json.dumps({{c: OrangeLogicHook(c.lower()).test_connection() for c in {list(cases)!r}}}))"
    )
    results = json.loads(sandbox.python(code, env=env).stdout.strip().splitlines()[-1])
    assert results["OL_OK"][0] and "Access token expires at" in results["OL_OK"][1]
    assert (
        results["OL_FRESH"] == [False, results["OL_FRESH"][1]] and "No token pair is stored" in results["OL_FRESH"][1]
    )
    assert not results["OL_BADSECRET"][0] and results["OL_BADSECRET"][1].startswith("Bad credentials")
    assert not results["OL_DOWN"][0] and "is unreachable" in results["OL_DOWN"][1]
    assert not results["OL_TYPO"][0] and "without a path" in results["OL_TYPO"][1]
    assert CLIENT_SECRET not in json.dumps(results)


def test_connection_from_environment_json(sandbox, stand_in):
    authorized_connection(sandbox, stand_in, "ol_env_source")
    env_conn = {
        "conn_type": "orangelogic",
        "host": stand_in.url,
        "login": CLIENT_ID,
        "password": CLIENT_SECRET,
        "extra": {"token_variable": "orangelogic_token_ol_env_source"},
    }
    env = {"AIRFLOW_CONN_OL_ENV": json.dumps(env_conn)}
    status = hook_call(sandbox, "ol_env", "token_status()", env=env)
    assert status["token_variable"] == "orangelogic_token_ol_env_source" and status["access_token_valid"]
    run = sandbox.dags_test("orangelogic_search_example", {"conn_id": "ol_env", "query": "MediaType:Video"}, env=env)
    assert "assets over" in run.stdout


def test_reauthorization_needed_fails_loudly_without_retry(sandbox, stand_in):
    authorized_connection(sandbox, stand_in, "ol_revoked")
    before = variable_value(sandbox, "orangelogic_token_ol_revoked")
    calls = stand_in.counters()["token_requests"]
    stand_in.add_fault(
        "token", "status", count=5, status=400, error="invalid_grant", error_description="refresh token revoked"
    )
    run = sandbox.dags_test(  # forced: the pair is fresh for hours, and no test waits for it to be due
        "orangelogic_token_refresh",
        {"force": True},
        check=False,
        env={"AIRFLOW__ORANGELOGIC__REFRESH_CONN_IDS": "ol_revoked"},
    )
    stand_in.clear_faults()
    output = run.stdout + run.stderr
    assert "A person must authorize again" in output
    assert f"Authorization URL: {stand_in.url}/oauth2/auth?client_id={CLIENT_ID}" in output
    assert stand_in.counters()["token_requests"] == calls + 1  # no retry presented it again
    assert variable_value(sandbox, "orangelogic_token_ol_revoked") == before
    states = [r for r in db_rows(sandbox, "task_instance") if "orangelogic_token_refresh" in map(str, r)]
    assert any("failed" in map(str, r) for r in states)


def test_shadowed_variable_is_reported_before_any_refresh(sandbox, stand_in):
    authorized_connection(sandbox, stand_in, "ol_shadow")
    stored = variable_value(sandbox, "orangelogic_token_ol_shadow")
    calls = stand_in.counters()["token_requests"]
    env = {"AIRFLOW__ORANGELOGIC__REFRESH_CONN_IDS": "ol_shadow", "AIRFLOW_VAR_ORANGELOGIC_TOKEN_OL_SHADOW": stored}
    run = sandbox.dags_test("orangelogic_token_refresh", {"force": True}, check=False, env=env)
    output = run.stdout + run.stderr
    assert "EnvironmentVariablesBackend" in output and "unset AIRFLOW_VAR_ORANGELOGIC_TOKEN_OL_SHADOW" in output
    assert stand_in.counters()["token_requests"] == calls


def test_example_dags_parse_cheaply_with_the_documented_shape(sandbox):
    code = (
        "import json, socket\n"
        "def no_network(*a, **k):\n"
        "    raise AssertionError('network access while parsing')\n"
        "socket.socket.connect = no_network\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        "bag = DagBag()\n"
        "out = {'errors': list(bag.import_errors)}\n"
        "for dag_id, dag in bag.dags.items():\n"
        "    out[dag_id] = {'schedule': str(dag.schedule), 'catchup': dag.catchup,\n"
        "                   'max_active_runs': dag.max_active_runs, 'params': sorted(dag.params.keys()),\n"
        "                   'tasks': sorted(dag.task_ids)}\n"
        "print('RESULT=' + json.dumps(out))\n"
    )
    # No connection and no Variable exists for these ids: parsing must not need them.
    env = {"AIRFLOW__ORANGELOGIC__REFRESH_CONN_IDS": "ol_parse_a, ol_parse_b"}
    out = sandbox.python(code, env=env).stdout
    dags = json.loads(next(ln for ln in out.splitlines() if ln.startswith("RESULT=")).removeprefix("RESULT="))
    assert dags["errors"] == []
    exchange, refresh = dags["orangelogic_token_exchange"], dags["orangelogic_token_refresh"]
    assert exchange["schedule"] == "None" and exchange["params"] == ["code", "conn_id", "skip_state_check"]
    assert refresh["catchup"] is False and refresh["max_active_runs"] == 1 and refresh["params"] == ["force"]
    assert "0:30:00" in refresh["schedule"]
    assert dags["orangelogic_search_example"]["tasks"] == ["report", "search_assets"]
