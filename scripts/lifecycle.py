"""Run the whole Orange Logic token lifecycle locally and print a short report, without secrets.

1. start the stand-in (python -m airflow_provider_orangelogic.testing) and a fresh SQLite Airflow;
2. create the orangelogic_default connection and open the authorization URL like a browser;
3. run orangelogic_token_exchange with the code, orangelogic_token_refresh once the pair is due,
   and orangelogic_search_example, each with `airflow dags test`;
4. report expiry times, pages fetched and the stand-in's counters, and check no secret leaked.
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import shutil
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import requests

from airflow_provider_orangelogic.testing.process import StandInProcess
from airflow_provider_orangelogic.testing.sandbox import AirflowSandbox

REPO = Path(__file__).resolve().parents[1]
CLIENT_ID = "lifecycle-client"
REDIRECT_URI = "http://127.0.0.1:8080/orangelogic/callback"
HOOK = "from airflow_provider_orangelogic.hooks.orangelogic import OrangeLogicHook; import json; "


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", default=str(REPO / ".lifecycle"), help="AIRFLOW_HOME to (re)create")
    parser.add_argument("--access-lifetime", type=int, default=60, help="stand-in access token lifetime (s)")
    parser.add_argument("--catalogue-size", type=int, default=2000)
    args = parser.parse_args()

    started = time.monotonic()
    home = Path(args.home)
    shutil.rmtree(home, ignore_errors=True)
    client_secret = "lifecycle-" + secrets.token_urlsafe(16)
    home.mkdir(parents=True)
    with StandInProcess(
        client_id=CLIENT_ID, client_secret=client_secret, redirect_uri=REDIRECT_URI,
        access_lifetime=args.access_lifetime, catalogue_size=args.catalogue_size, max_runtime=1200,
    ) as stand_in:  # fmt: skip
        return _run(stand_in, client_secret, home, started)


def _step(number: int, text: str) -> None:
    print(f"{number}. {text}", flush=True)


def _run(stand_in: StandInProcess, client_secret: str, home: Path, started: float) -> int:
    url = stand_in.url
    box = AirflowSandbox(home / "airflow", REPO / "dags_examples")
    outputs: list[str] = []
    print(f"Orange Logic token lifecycle: SQLite Airflow in {box.home}, stand-in at {url}\n", flush=True)
    box.migrate()
    box.add_connection(
        "orangelogic_default",
        conn_type="orangelogic",
        host=url,
        login=CLIENT_ID,
        password=client_secret,
        extra={"redirect_uri": REDIRECT_URI},
    )
    _step(1, "Airflow metadata DB migrated; connection orangelogic_default created.")

    auth_url = _hook(box, "print(OrangeLogicHook().get_authorization_url())")
    answer = requests.get(auth_url, allow_redirects=False, timeout=10)
    redirect = parse_qs(urlsplit(answer.headers["Location"]).query)
    sent_state = parse_qs(urlsplit(auth_url).query)["state"][0]
    if redirect.get("state", [""])[0] != sent_state:
        raise SystemExit("The state returned with the code does not match the one sent.")
    code = redirect["code"][0]
    _step(2, f"Authorized at {urlsplit(auth_url).path} (state verified); got a one-time code.")

    run = box.dags_test("orangelogic_token_exchange", {"code": code, "conn_id": "orangelogic_default"})
    outputs.append(run.stdout + run.stderr)
    status = _status(box)
    _step(
        3,
        f"orangelogic_token_exchange: success. Access token expires {status['access_token_expires_at']} "
        f"(in {status['access_token_seconds_left']} s); refresh token {status['refresh_token_expires_at']}.",
    )

    while not _status(box)["needs_refresh"]:  # half the access token's life, the default policy
        time.sleep(1)
    run = box.dags_test("orangelogic_token_refresh")
    outputs.append(run.stdout + run.stderr)
    refreshed = _status(box)
    _step(
        4,
        f"orangelogic_token_refresh: success, obtained_by={refreshed['obtained_by']}. Access token now "
        f"expires {refreshed['access_token_expires_at']}.",
    )

    run = box.dags_test("orangelogic_search_example", {"query": "MediaType:Image", "page_size": 100})
    outputs.append(run.stdout + run.stderr)
    counters = stand_in.counters()
    found = re.search(r"Search '[^']*': (\d+) assets over (\d+) pages", run.stdout)
    if not found:
        raise SystemExit("The search pipeline did not report its summary.")
    _step(5, f"orangelogic_search_example: success, {found[1]} assets (MediaType:Image) over {found[2]} pages.")

    issued = [*stand_in.issued_secrets(), client_secret]
    text = "\n".join(outputs)
    leaked = sum(1 for secret in issued if secret in text)
    print(
        f"\nToken endpoint calls: {counters['token_requests']} "
        f"({counters['authorization_code_grants']} code exchange, {counters['refresh_token_grants']} refresh); "
        f"refresh-token reuses: {counters['refresh_token_reuses']}; revoked grants: {counters['grants_revoked']}.\n"
        f"Search pages served: {counters['search_pages_served']} ({counters['search_items_served']} assets).\n"
        f"Secret scan of all task output: {leaked} of {len(issued)} secrets found.\n"
        f"Done in {time.monotonic() - started:.0f} s."
    )
    ok = leaked == 0 and counters["refresh_token_reuses"] == 0 and refreshed["obtained_by"] == "refresh_token"
    return 0 if ok else 1


def _hook(box: AirflowSandbox, statement: str) -> str:
    return box.python(HOOK + statement).stdout.strip().splitlines()[-1]


def _status(box: AirflowSandbox) -> dict:
    return json.loads(_hook(box, "print(json.dumps(OrangeLogicHook().token_status()))"))


if __name__ == "__main__":
    sys.exit(main())
