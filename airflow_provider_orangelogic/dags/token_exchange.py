"""
### Orange Logic: exchange an authorization code for a token pair

For headless setups: where the Airflow UI is at hand, the Orange Logic page (Admin > Orange
Logic, ``/orangelogic/``) does all of this with one button, and the code never reaches a DAG run.
Run this once per Orange Logic connection, and again whenever the refresh DAG says a person
must authorize again.

**Getting the code**

1. In Orange Logic, open the OAuth Client Application account (Administration > Contacts),
   and check that its redirect URI is the one in the connection's *Redirect URI* field.
2. Get the authorization URL (it contains no secret) in Python, on any machine with the
   Airflow config: `OrangeLogicHook("orangelogic_default").get_authorization_url()`.
   It looks like `https://dam.example.com/oauth2/auth?client_id=...&response_type=code&redirect_uri=...&state=...`.
   Its `state` is recorded for that connection (as a hash, in the Variable
   `orangelogic_issued_states_<conn_id>`) and is good for one exchange within 30 minutes
   (`[orangelogic] state_lifetime_seconds`).
3. Open it in a browser, log in and press *Authorize*. The browser lands on
   `<redirect uri>?code=AUTHORIZATION_CODE&state=...`.
4. Trigger this DAG with that whole address in the *code* field (Trigger DAG w/ config form),
   and the connection id in *conn_id*. The run checks the state against the ones issued for
   that connection and refuses a code without one, or with a state it did not issue, used or
   expired (nothing is exchanged). Codes are single use and short lived: trigger it right away.
   An address carrying ``error=`` (e.g. ``access_denied``) fails the run with Orange Logic's answer.

*skip_state_check*: only if you opened an authorization URL this deployment did not issue on
purpose (e.g. built by hand), tick it to exchange a code without checking its state. The run
logs a warning. Do not tick it for a code someone else sent you.

The code is masked in the task log and in the rendered-template view; the pair goes to the
Variable `orangelogic_token_<conn_id>` and XCom only gets expiry times.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow.sdk import DAG, Param

from airflow_provider_orangelogic.dags._common import DEFAULT_CONN_ID, Callback, conn_id_param, dag_arguments
from airflow_provider_orangelogic.operators.orangelogic import OrangeLogicExchangeCodeOperator

DAG_ID = "orangelogic_token_exchange"


def token_exchange_dag(
    *,
    dag_id: str = DAG_ID,
    conn_id: str = DEFAULT_CONN_ID,
    tags: Sequence[str] = ("orangelogic", "oauth"),
    on_failure_callback: Callback | None = None,
    default_args: Mapping[str, Any] | None = None,
    **dag_kwargs: Any,
) -> DAG:
    """The manually triggered DAG trading an authorization code (its *code* param) for a token pair.

    :param conn_id: The connection id the trigger form proposes (the *conn_id* param's default).
    :param on_failure_callback: Called (a callable or notifier, or a list) by a task that fails after its
        last retry, with the failure in ``context["exception"]``.
    :param default_args: Merged over the DAG's own (which has none); the task never retries: a code
        is single use.
    :param dag_kwargs: Any other ``DAG`` argument (description, doc_md, owner_links, ...).
    """
    arguments = dag_arguments(
        base_default_args={},
        default_args=default_args,
        on_failure_callback=on_failure_callback,
        tags=tags,
        extra={
            "description": "Exchange an Orange Logic authorization code for a token pair (run by hand).",
            "doc_md": __doc__,
            "schedule": None,
            "max_active_runs": 1,
            **dag_kwargs,
        },
    )
    with DAG(
        dag_id=dag_id,
        params={
            "code": Param(
                type="string",
                minLength=1,
                title="Authorization code or redirect address",
                description="The whole address the browser landed on after 'Authorize' (code and state are taken "
                "from it; the state must be one get_authorization_url() issued for this connection).",
            ),
            "conn_id": conn_id_param(
                conn_id,
                "The orangelogic connection (Admin > Connections) the authorization URL was made for; "
                "the new token pair is stored for it, in the Variable orangelogic_token_<conn_id> unless the "
                "connection names another.",
            ),
            "skip_state_check": Param(
                False,
                type="boolean",
                title="Skip the state check",
                description="Only for an authorization URL this deployment did not issue, opened on purpose: "
                "exchange the code without checking its state. Never for a code someone else sent you.",
            ),
        },
        **arguments,
    ) as dag:
        OrangeLogicExchangeCodeOperator(
            task_id="exchange_code",
            code="{{ params.code }}",
            orangelogic_conn_id="{{ params.conn_id }}",
            skip_state_check="{{ params.skip_state_check }}",
            retries=0,  # a code is single use: a retry could only fail or, worse, look like reuse
        )
    return dag
