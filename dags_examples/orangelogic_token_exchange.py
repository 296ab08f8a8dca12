"""
### Orange Logic: exchange an authorization code for a token pair

Run this once per Orange Logic connection, and again whenever the refresh DAG says a person
must authorize again.

**Getting the code**

1. In Orange Logic, open the OAuth Client Application account (Administration > Contacts),
   and check that its redirect URI is the one in the connection's *Redirect URI* field.
2. Get the authorization URL (it contains no secret) in Python, on any machine with the
   Airflow config: `OrangeLogicHook("orangelogic_default").get_authorization_url()`.
   It looks like `https://dam.example.com/oauth2/auth?client_id=...&response_type=code&redirect_uri=...&state=...`.
3. Open it in a browser, log in and press *Authorize*. The browser lands on
   `<redirect uri>?code=AUTHORIZATION_CODE&state=...`; check that `state` is the one you sent.
4. Trigger this DAG with that code in the *code* field (Trigger DAG w/ config form), and the
   connection id in *conn_id*. Codes are single use and short lived: trigger it right away.

The code is masked in the task log and in the rendered-template view; the pair goes to the
Variable `orangelogic_token_<conn_id>` and XCom only gets expiry times.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param

from airflow_provider_orangelogic.operators.orangelogic import OrangeLogicExchangeCodeOperator

with DAG(
    dag_id="orangelogic_token_exchange",
    description="Exchange an Orange Logic authorization code for a token pair (run by hand).",
    doc_md=__doc__,
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["orangelogic", "oauth"],
    params={
        "code": Param(
            type="string",
            minLength=1,
            title="Authorization code",
            description="The value of 'code' in the address the browser landed on after 'Authorize'.",
        ),
        "conn_id": Param(
            "orangelogic_default",
            type="string",
            minLength=1,
            title="Orange Logic connection id",
        ),
    },
) as dag:
    OrangeLogicExchangeCodeOperator(
        task_id="exchange_code",
        code="{{ params.code }}",
        orangelogic_conn_id="{{ params.conn_id }}",
        retries=0,  # a code is single use: a retry could only fail or, worse, look like reuse
    )
