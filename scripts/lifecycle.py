"""Run the whole Orange Logic token lifecycle locally and print a short report, without secrets.

1. start the stand-in (python -m airflow_provider_orangelogic.testing) with Orange Logic's lifetimes
   (24-hour access tokens, 30-day refresh tokens) and a fresh SQLite Airflow;
2. create the orangelogic_default connection and open the authorization URL like a browser;
3. run orangelogic_token_exchange with the code, orangelogic_token_refresh with force=true (a real
   refresh with the refresh token, made due by the script rather than by waiting), and
   orangelogic_search_example, each with `airflow dags test`;
4. report expiry times, pages fetched and the stand-in's counters, and check no secret leaked.

No step depends on how fast the machine is: every token outlives the run by hours, and nothing
waits for the clock. Each step is announced before it starts and timed when it ends.
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from airflow_provider_orangelogic.testing.browser import follow_authorization
from airflow_provider_orangelogic.testing.process import StandInProcess
from airflow_provider_orangelogic.testing.sandbox import AirflowSandbox

REPO = Path(__file__).resolve().parents[1]
CLIENT_ID = "lifecycle-client"
REDIRECT_URI = "http://127.0.0.1:8080/orangelogic/callback"
HOOK = "from airflow_provider_orangelogic.hooks.orangelogic import OrangeLogicHook; import json; "
# Guards against a hung command only; a slow machine is expected to take minutes per step.
COMMAND_TIMEOUT = 3600.0
HEARTBEAT = 30.0


class StepFailed(RuntimeError):
    """A step went wrong; the message says what, without secrets."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", default=str(REPO / ".lifecycle"), help="AIRFLOW_HOME to (re)create")
    parser.add_argument("--catalogue-size", type=int, default=2000)
    args = parser.parse_args()

    started = time.monotonic()
    home = Path(args.home)
    shutil.rmtree(home, ignore_errors=True)
    client_secret = "lifecycle-" + secrets.token_urlsafe(16)
    home.mkdir(parents=True)
    steps = Steps(started)
    try:
        with steps.step("Starting the local stand-in of Orange Logic (24 h access / 30 day refresh tokens)"):
            # The stand-in's defaults are Orange Logic's lifetimes; max_runtime only stops an orphan.
            stand_in = StandInProcess(
                client_id=CLIENT_ID, client_secret=client_secret, redirect_uri=REDIRECT_URI,
                catalogue_size=args.catalogue_size, max_runtime=6 * 3600,
            )  # fmt: skip
            steps.note(f"listening at {stand_in.url}")
        with stand_in:
            ok = _run(steps, stand_in, client_secret, home)
    except (RuntimeError, OSError, subprocess.SubprocessError) as error:  # StepFailed, AirflowCommandError, ...
        print(f"\n{error}", flush=True)
        ok = False
    print(f"\nLifecycle {'PASSED' if ok else 'FAILED'} in {_duration(time.monotonic() - started)}.", flush=True)
    return 0 if ok else 1


class Steps:
    """Numbered steps: announced before they start, timed when they end, a heartbeat in between."""

    def __init__(self, started: float) -> None:
        self.started = started
        self.number = 0

    @contextmanager
    def step(self, text: str) -> Iterator[None]:
        self.number += 1
        print(f"{self.number}. {text}...", flush=True)
        step_started = time.monotonic()
        done = threading.Event()

        def heartbeat() -> None:
            while not done.wait(HEARTBEAT):
                print(f"   ... still running ({_duration(time.monotonic() - step_started)})", flush=True)

        beat = threading.Thread(target=heartbeat, daemon=True)
        beat.start()
        try:
            yield
        except BaseException:
            done.set()
            print(f"   FAILED after {_duration(time.monotonic() - step_started)}.", flush=True)
            raise
        finally:
            done.set()
            beat.join()
        print(
            f"   done in {_duration(time.monotonic() - step_started)} "
            f"(total {_duration(time.monotonic() - self.started)}).",
            flush=True,
        )

    def note(self, text: str) -> None:
        print(f"   {text}", flush=True)


def _run(steps: Steps, stand_in: StandInProcess, client_secret: str, home: Path) -> bool:
    box = AirflowSandbox(home / "airflow", REPO / "dags_examples")
    outputs: list[str] = []

    with steps.step(f"Creating a SQLite Airflow in {box.home} (airflow db migrate) and orangelogic_default"):
        box.migrate()
        box.add_connection(
            "orangelogic_default",
            conn_type="orangelogic",
            host=stand_in.url,
            login=CLIENT_ID,
            password=client_secret,
            extra={"redirect_uri": REDIRECT_URI},
        )

    with steps.step("Authorizing like a browser (the hook's authorization URL, then the redirect)"):
        auth_url = _hook(box, "print(OrangeLogicHook().get_authorization_url())")
        code = follow_authorization(auth_url, timeout=120).code
        steps.note(f"authorized at {urlsplit(auth_url).path} (state verified); got a one-time code.")

    with steps.step("Running orangelogic_token_exchange (airflow dags test)"):
        run = box.dags_test(
            "orangelogic_token_exchange", {"code": code, "conn_id": "orangelogic_default"}, timeout=COMMAND_TIMEOUT
        )
        outputs.append(run.stdout + run.stderr)
        exchanged = _status(box)
        if exchanged["obtained_by"] != "authorization_code":
            raise StepFailed(f"after the exchange the pair was obtained by {exchanged['obtained_by']!r}.")
        steps.note(
            f"access token expires {exchanged['access_token_expires_at']} "
            f"(in {exchanged['access_token_seconds_left']} s); refresh token {exchanged['refresh_token_expires_at']}."
        )

    with steps.step("Running orangelogic_token_refresh with force=true (airflow dags test)"):
        # The access token is fresh for 24 h: force the refresh rather than wait for it to become due.
        run = box.dags_test("orangelogic_token_refresh", {"force": True}, timeout=COMMAND_TIMEOUT)
        outputs.append(run.stdout + run.stderr)
        refreshed = _status(box)
        reason = re.search(r"Refreshed the token pair in .*? \(([^()]*)\); the access", run.stdout + run.stderr)
        steps.note(
            f"obtained_by={refreshed['obtained_by']}{f' ({reason[1]})' if reason else ''}; "
            f"access token now expires {refreshed['access_token_expires_at']}."
        )
        if refreshed["obtained_by"] != "refresh_token" or refreshed["obtained_at"] == exchanged["obtained_at"]:
            raise StepFailed("the refresh DAG did not store a pair obtained with the refresh token.")

    with steps.step("Running orangelogic_search_example (airflow dags test)"):
        run = box.dags_test(
            "orangelogic_search_example", {"query": "MediaType:Image", "page_size": 100}, timeout=COMMAND_TIMEOUT
        )
        outputs.append(run.stdout + run.stderr)
        found = re.search(r"Search '[^']*': (\d+) assets over (\d+) pages", run.stdout)
        if not found:
            raise StepFailed("the search pipeline did not report its summary.")
        steps.note(f"{found[1]} assets (MediaType:Image) over {found[2]} pages.")

    with steps.step("Reading the stand-in's counters and scanning all task output for secrets"):
        counters = stand_in.counters()
        issued = [*stand_in.issued_secrets(), client_secret]
        text = "\n".join(outputs)
        leaked = sum(1 for secret in issued if secret in text)

    print(
        f"\nToken endpoint calls: {counters['token_requests']} "
        f"({counters['authorization_code_grants']} code exchange, {counters['refresh_token_grants']} refresh); "
        f"refresh-token reuses: {counters['refresh_token_reuses']}; revoked grants: {counters['grants_revoked']}.\n"
        f"Search pages served: {counters['search_pages_served']} ({counters['search_items_served']} assets).\n"
        f"Secret scan of all task output: {leaked} of {len(issued)} secrets found.",
        flush=True,
    )
    return (
        leaked == 0
        and counters["refresh_token_reuses"] == 0
        and counters["refresh_token_grants"] == 1
        and refreshed["obtained_by"] == "refresh_token"
    )


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def _hook(box: AirflowSandbox, statement: str) -> str:
    return box.python(HOOK + statement, timeout=COMMAND_TIMEOUT).stdout.strip().splitlines()[-1]


def _status(box: AirflowSandbox) -> dict:
    return json.loads(_hook(box, "print(json.dumps(OrangeLogicHook().token_status()))"))


if __name__ == "__main__":
    sys.exit(main())
