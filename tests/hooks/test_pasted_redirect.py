"""The exchange DAG's input: a bare code, or the whole address the browser landed on."""

from __future__ import annotations

import pytest

from airflow_provider_orangelogic.core.errors import ConfigurationError
from airflow_provider_orangelogic.oauth.redirect import parse_pasted

CODE = "Sp1cE-code_4f9QwZabcdef"


@pytest.mark.parametrize(
    "pasted",
    [
        CODE,
        f"  {CODE}\n",
        f"https://airflow.example.com/orangelogic/callback?code={CODE}&state=st4te",
        f"http://127.0.0.1:8080/cb?state=st4te&code={CODE}",
        f"?code={CODE}&state=st4te",
        f"code={CODE}&state=st4te",
    ],
)
def test_the_code_is_taken_from_what_was_pasted(pasted):
    result = parse_pasted(pasted)
    assert result.code == CODE
    assert result.state == (None if "state" not in pasted else "st4te")
    assert CODE not in repr(result)


@pytest.mark.parametrize(
    ("pasted", "says"),
    [
        (
            "https://airflow.example.com/cb?error=access_denied&error_description=The+user+said+no&state=s",
            "error=access_denied: The user said no. The person declined the authorization. Nothing was exchanged",
        ),
        ("https://airflow.example.com/cb?state=s", "The pasted address has no 'code' parameter"),
        ("https://airflow.example.com/orangelogic/", "The pasted address has no 'code' parameter"),
        (f"https://x.example.com/cb?code={CODE}&code=other", "more than one 'code'"),
        ("", "The authorization code is empty"),
        (f"{CODE} {CODE}", "spaces, line breaks or control characters"),
    ],
)
def test_anything_else_gets_a_clear_message(pasted, says):
    with pytest.raises(ConfigurationError) as caught:
        parse_pasted(pasted)
    assert says in str(caught.value) and CODE not in str(caught.value)


def test_the_operator_exchanges_the_code_of_a_pasted_address(monkeypatch):
    from airflow_provider_orangelogic.operators import orangelogic as operators

    exchanged = []

    class Hook:
        def __init__(self, conn_id):
            self.conn_id = conn_id

        def exchange_code(self, code, *, state=None, skip_state_check=False):
            exchanged.append((self.conn_id, code, state, skip_state_check))
            return {"conn_id": self.conn_id}

    monkeypatch.setattr(operators, "OrangeLogicHook", Hook)
    address = f"https://airflow.example.com/orangelogic/callback?code={CODE}&state=st4te"
    op = operators.OrangeLogicExchangeCodeOperator(task_id="x", code=address, orangelogic_conn_id="ol")
    assert op.execute({}) == {"conn_id": "ol"} and exchanged == [("ol", CODE, "st4te", False)]
    denied = operators.OrangeLogicExchangeCodeOperator(task_id="y", code="https://a.example.com/cb?error=access_denied")
    with pytest.raises(operators.OrangeLogicConfigurationError, match="error=access_denied"):
        denied.execute({})
