"""Hardening: the state of an authorization URL is checked when its code is exchanged.

Before, any code was exchanged: the exchange DAG only logged the state of a pasted address, so a code from an
authorization someone else started (their own Orange Logic account, a forged redirect address) was traded for a
pair and stored for the connection. Now ``get_authorization_url()`` records the state it issues (a hash, per
connection, ``oauth/state.py``) and the exchange spends it once, within ``state_lifetime_seconds``, or refuses
with nothing sent to Orange Logic; ``skip_state_check`` is the explicit way round for a URL opened elsewhere.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from airflow_provider_orangelogic.core import endpoints
from airflow_provider_orangelogic.hooks.orangelogic import OrangeLogicConfigurationError, OrangeLogicHook
from airflow_provider_orangelogic.oauth.state import MemoryStateRecordStore, digest
from airflow_provider_orangelogic.oauth.stores import MemoryTokenStore
from airflow_provider_orangelogic.testing.browser import follow_authorization
from tests.conftest import CLIENT_ID, CLIENT_SECRET, FAST_RETRY, REDIRECT_URI, set_env_connection

CONN_ID = "ol_state"
OTHER_CONN_ID = "ol_state_other"


@pytest.fixture
def connections(stand_in, monkeypatch):
    def set_connection(conn_id=CONN_ID, **changes):
        set_env_connection(monkeypatch, conn_id, stand_in.url, **changes)

    set_connection(CONN_ID)
    set_connection(OTHER_CONN_ID)
    return set_connection


@pytest.fixture
def deployment(tmp_path):
    """One deployment: a token store and an issued-state record per connection, shared by every hook."""
    tokens: dict[str, MemoryTokenStore] = {}
    states: dict[str, MemoryStateRecordStore] = {}

    def hook(conn_id=CONN_ID):
        return OrangeLogicHook(
            conn_id,
            token_store=tokens.setdefault(conn_id, MemoryTokenStore(conn_id)),
            state_store=states.setdefault(conn_id, MemoryStateRecordStore(conn_id)),
            retry=FAST_RETRY,
            lock_dir=str(tmp_path),
        )

    hook.tokens = tokens
    hook.states = states
    return hook


def foreign_address(stand_in, state="chosen-by-someone-else") -> str:
    """The address a browser lands on after approving an authorization URL this deployment never issued."""
    query = urlencode({"client_id": CLIENT_ID, "response_type": "code", "redirect_uri": REDIRECT_URI, "state": state})
    return follow_authorization(f"{stand_in.url}{endpoints.AUTHORIZE}?{query}", timeout=30).location


def refused(call) -> str:
    with pytest.raises(OrangeLogicConfigurationError) as caught:
        call()
    return str(caught.value)


def test_a_state_this_deployment_never_issued_is_refused(stand_in, connections, deployment):
    """A redirect address whose state this deployment never issued: refused, nothing sent to Orange Logic."""
    hook = deployment()
    hook.get_authorization_url()  # the connection has an issued state, just not this one
    message = refused(lambda: hook.exchange_code(foreign_address(stand_in)))
    assert f"does not match one this deployment issued for connection {CONN_ID!r} in the last 30 minutes" in message
    assert "Nothing was exchanged" in message and "skip_state_check" in message and "get_authorization_url()" in message
    assert stand_in.counters().get("authorization_code_grants", 0) == 0 and deployment.tokens[CONN_ID].text is None


def test_the_exchange_dag_operator_refuses_a_foreign_address(stand_in, connections, deployment, monkeypatch):
    """The exchange DAG's task refuses a pasted address with a foreign state (it only logged the state before)."""
    from airflow_provider_orangelogic.operators import orangelogic as operators

    monkeypatch.setattr(operators, "OrangeLogicHook", deployment)
    op = operators.OrangeLogicExchangeCodeOperator(
        task_id="x", code=foreign_address(stand_in), orangelogic_conn_id=CONN_ID
    )
    assert "does not match one this deployment issued" in refused(lambda: op.execute({}))
    assert stand_in.counters().get("authorization_code_grants", 0) == 0 and deployment.tokens[CONN_ID].text is None
    issued = follow_authorization(deployment().get_authorization_url(), timeout=30).location
    good = operators.OrangeLogicExchangeCodeOperator(task_id="y", code=issued, orangelogic_conn_id=CONN_ID)
    assert good.execute({})["conn_id"] == CONN_ID and stand_in.counters()["authorization_code_grants"] == 1


def test_a_bare_code_without_state_is_refused(stand_in, connections, deployment):
    """A bare code with no state: refused with what to paste instead, unless the check is skipped explicitly."""
    hook = deployment()
    code = follow_authorization(hook.get_authorization_url(), timeout=30).code
    message = refused(lambda: hook.exchange_code(code))
    assert "No state came with the authorization code" in message and "whole address the browser landed on" in message
    assert stand_in.counters().get("authorization_code_grants", 0) == 0


def test_a_bare_code_with_its_state_is_exchanged(stand_in, connections, deployment):
    """A bare code with the state given beside it is exchanged (the Python API's other form)."""
    hook = deployment()
    redirect = follow_authorization(hook.get_authorization_url(), timeout=30)
    assert hook.exchange_code(redirect.code, state=redirect.state)["conn_id"] == CONN_ID
    assert json.loads(deployment.tokens[CONN_ID].text)["obtained_by"] == "authorization_code"


def test_a_state_issued_for_another_connection_is_refused(stand_in, connections, deployment):
    """A state issued for another connection of the same deployment does not authorize this one."""
    address = follow_authorization(deployment(OTHER_CONN_ID).get_authorization_url(), timeout=30).location
    message = refused(lambda: deployment(CONN_ID).exchange_code(address))
    assert f"issued for connection {CONN_ID!r}" in message
    assert deployment(OTHER_CONN_ID).exchange_code(address)["conn_id"] == OTHER_CONN_ID  # still good where it belongs


def test_a_state_is_good_for_one_exchange(stand_in, connections, deployment):
    """A state is single use: the same redirect address a second time is refused as already used."""
    hook = deployment()
    address = follow_authorization(hook.get_authorization_url(), timeout=30).location
    hook.exchange_code(address)
    message = refused(lambda: deployment().exchange_code(address))
    assert "already used" in message and stand_in.counters()["authorization_code_grants"] == 1


def test_a_state_expires(stand_in, connections, deployment, monkeypatch):
    """A state older than state_lifetime_seconds is refused as expired; the option sets the lifetime."""
    monkeypatch.setenv("AIRFLOW__ORANGELOGIC__STATE_LIFETIME_SECONDS", "600")
    now = [1_000_000.0]
    hook = deployment()
    hook.issued_states.clock = lambda: now[0]
    assert hook.issued_states.lifetime == 600
    address = follow_authorization(hook.get_authorization_url(), timeout=30).location
    now[0] += 601
    message = refused(lambda: hook.exchange_code(address))
    assert "more than 10 minutes ago" in message and stand_in.counters().get("authorization_code_grants", 0) == 0


def test_a_state_is_refused_after_the_connection_changed(stand_in, connections, deployment):
    """A state issued before the connection's client ID changed is refused: the code is for the old one."""
    address = follow_authorization(deployment().get_authorization_url(), timeout=30).location
    connections(CONN_ID, login="another-client")
    assert "changed (Orange Logic URL or client ID)" in refused(lambda: deployment().exchange_code(address))


def test_skip_state_check_exchanges_a_foreign_code_with_a_warning(stand_in, connections, deployment, capsys):
    """skip_state_check=True exchanges a code from a URL this deployment did not issue, and says so in the log."""
    summary = deployment().exchange_code(foreign_address(stand_in), skip_state_check=True)
    logged = "".join(capsys.readouterr())
    assert summary["conn_id"] == CONN_ID and "WITHOUT checking its state" in logged


@pytest.mark.parametrize("value", ["True", "true", True])
def test_the_dag_param_skips_the_check(stand_in, connections, deployment, monkeypatch, value):
    """The exchange DAG's skip_state_check param reaches the hook (a rendered "True" included)."""
    from airflow_provider_orangelogic.operators import orangelogic as operators

    monkeypatch.setattr(operators, "OrangeLogicHook", deployment)
    op = operators.OrangeLogicExchangeCodeOperator(
        task_id="x", code=foreign_address(stand_in), orangelogic_conn_id=CONN_ID, skip_state_check=value
    )
    assert op.execute({})["conn_id"] == CONN_ID


def test_the_record_holds_hashes_never_a_state(stand_in, connections, deployment):
    """The issued-state record holds the state's SHA-256 and times, never the state itself."""
    url = deployment().get_authorization_url()
    state = follow_authorization(url, timeout=30).state
    text = deployment.states[CONN_ID].text
    assert state not in text and digest(state) in text
    entry = json.loads(text)["states"][0]
    assert set(entry) == {"sha256", "issued_at", "expires_at", "host", "client_id", "used_at"}
    assert entry["expires_at"] - entry["issued_at"] == 1800


def test_the_page_states_are_not_checked_twice(stand_in, connections, deployment):
    """The Orange Logic page checks its own states: its exchange (state_verified_by) needs no issued state."""
    code = stand_in.authorize(REDIRECT_URI)
    assert deployment().exchange_code(code, state_verified_by="the Orange Logic page")["conn_id"] == CONN_ID


@pytest.mark.integration
def test_the_exchange_dag_refuses_a_foreign_address_in_airflow(sandbox, stand_in):
    """airflow dags test orangelogic_token_exchange: a foreign state fails the run, the hook's URL succeeds once."""
    from tests.integration import conftest as it

    conn_id = "ol_state_dag"
    sandbox.add_connection(
        conn_id,
        conn_type="orangelogic",
        host=stand_in.url,
        login=CLIENT_ID,
        password=CLIENT_SECRET,
        extra={"redirect_uri": REDIRECT_URI},
    )
    address = foreign_address(stand_in)
    forged = sandbox.dags_test("orangelogic_token_exchange", {"code": address, "conn_id": conn_id}, check=False)
    assert "does not match one this deployment issued" in forged.stdout + forged.stderr
    stored = f"from airflow.models.variable import Variable; print(Variable.get('orangelogic_token_{conn_id}', 'NONE'))"
    assert sandbox.python(stored).stdout.strip().endswith("NONE")
    address = it.authorize_in_browser(it.hook_call(sandbox, conn_id, "get_authorization_url()"))
    sandbox.dags_test("orangelogic_token_exchange", {"code": address, "conn_id": conn_id})
    assert it.hook_call(sandbox, conn_id, "token_status()")["obtained_by"] == "authorization_code"
