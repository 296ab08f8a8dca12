"""Run the whole Orange Logic token lifecycle locally and print a short report, without secrets.

1. start the stand-in (python -m airflow_provider_orangelogic.testing) with Orange Logic's lifetimes
   (24-hour access tokens, 30-day refresh tokens) and a fresh SQLite Airflow;
2. create the orangelogic_default connection and open the authorization URL like a browser;
3. run orangelogic_token_exchange with the code, orangelogic_token_refresh with force=true (a real
   refresh with the refresh token, made due by the script rather than by waiting),
   orangelogic_search_example, orangelogic_storage_to_orangelogic (one file uploaded, its bytes checked
   at the stand-in) and orangelogic_update_metadata (a title and two tags on that asset, read back),
   each with `airflow dags test`;
4. report expiry times, pages fetched and the stand-in's counters, and check no secret leaked.

No step depends on how fast the machine is: every token outlives the run by hours, and nothing
waits for the clock. Each step is announced before it starts and timed when it ends.
"""

from __future__ import annotations

import argparse
import hashlib
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
CODE_CONN, CC_CONN, BEARER_CONN = "orangelogic_default", "orangelogic_client_credentials", "orangelogic_bearer"


class StepFailed(RuntimeError):
    """A step went wrong; the message says what, without secrets."""


MODES = ("authorization_code", "client_credentials", "bearer_token")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", default=str(REPO / ".lifecycle"), help="AIRFLOW_HOME to (re)create")
    parser.add_argument("--catalogue-size", type=int, default=2000)
    parser.add_argument(
        "--auth-mode",
        default="authorization_code",
        help=f"comma-separated auth modes to run, or 'all' ({', '.join(MODES)}); default: authorization_code",
    )
    args = parser.parse_args()
    modes = MODES if args.auth_mode == "all" else tuple(mode.strip() for mode in args.auth_mode.split(","))
    unknown = [mode for mode in modes if mode not in MODES]
    if unknown:
        parser.error(f"unknown auth mode {', '.join(unknown)}; choose from {', '.join(MODES)} or 'all'")

    started = time.monotonic()
    home = Path(args.home)
    shutil.rmtree(home, ignore_errors=True)
    client_secret = "lifecycle-" + secrets.token_urlsafe(16)
    home.mkdir(parents=True)
    steps = Steps(started)
    results: dict[str, bool] = {}
    try:
        with steps.step("Starting the local stand-in of Orange Logic (24 h access / 30 day refresh tokens)"):
            # The stand-in's defaults are Orange Logic's lifetimes; max_runtime only stops an orphan.
            stand_in = StandInProcess(
                client_id=CLIENT_ID, client_secret=client_secret, redirect_uri=REDIRECT_URI,
                catalogue_size=args.catalogue_size, max_runtime=6 * 3600,
            )  # fmt: skip
            steps.note(f"listening at {stand_in.url}")
        with stand_in:
            box = AirflowSandbox(home / "airflow", REPO / "dags_examples")
            with steps.step(f"Creating a SQLite Airflow in {box.home} (airflow db migrate)"):
                box.migrate()
            for mode in modes:
                print(f"\n== auth_mode={mode} ==", flush=True)
                results[mode] = RUNNERS[mode](steps, box, stand_in, client_secret)
    except (RuntimeError, OSError, subprocess.SubprocessError) as error:  # StepFailed, AirflowCommandError, ...
        print(f"\n{error}", flush=True)
    ok = bool(results) and len(results) == len(modes) and all(results.values())
    if len(modes) > 1:
        print("\n" + "; ".join(f"{mode}: {'passed' if results.get(mode) else 'FAILED'}" for mode in modes))
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


def _authorization_code(steps: Steps, box: AirflowSandbox, stand_in: StandInProcess, client_secret: str) -> bool:
    """Authorize once like a browser, exchange the code, refresh with the refresh token, search."""
    outputs: list[str] = []
    before = stand_in.counters()

    with steps.step("Creating the connection orangelogic_default (auth_mode authorization_code)"):
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
        code = follow_authorization(auth_url, timeout=120).location  # the whole address: code and state
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
        run = box.dags_test(
            "orangelogic_token_refresh", {"force": True}, timeout=COMMAND_TIMEOUT, env=_refresh_only(CODE_CONN)
        )
        outputs.append(run.stdout + run.stderr)
        refreshed = _status(box)
        reason = re.search(r"Refreshed the token pair in .*? \(([^()]*)\); the access", run.stdout + run.stderr)
        steps.note(
            f"obtained_by={refreshed['obtained_by']}{f' ({reason[1]})' if reason else ''}; "
            f"access token now expires {refreshed['access_token_expires_at']}."
        )
        if refreshed["obtained_by"] != "refresh_token" or refreshed["obtained_at"] == exchanged["obtained_at"]:
            raise StepFailed("the refresh DAG did not store a pair obtained with the refresh token.")

    outputs.append(_search(steps, box, CODE_CONN))
    upload_output, record_id = _upload(steps, box, stand_in)
    outputs.append(upload_output)
    metadata_output, updated = _update_metadata(steps, box, stand_in, record_id)
    outputs.append(metadata_output)
    counters, leaked, issued = _account(steps, stand_in, before, outputs, [client_secret])
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
        and record_id is not None
        and updated
        and counters["refresh_token_reuses"] == 0
        and counters["refresh_token_grants"] == 1
        and refreshed["obtained_by"] == "refresh_token"
    )


def _client_credentials(steps: Steps, box: AirflowSandbox, stand_in: StandInProcess, client_secret: str) -> bool:
    """No browser step: the first API call obtains a token, the refresh DAG renews it, the search uses it."""
    outputs: list[str] = []
    before = stand_in.counters()
    with steps.step(f"Creating the connection {CC_CONN} (auth_mode client_credentials)"):
        box.add_connection(
            CC_CONN, conn_type="orangelogic", host=stand_in.url, login=CLIENT_ID, password=client_secret,
            extra={"auth_mode": "client_credentials"},
        )  # fmt: skip
    outputs.append(_search(steps, box, CC_CONN))
    first = _status(box, CC_CONN)
    if first["obtained_by"] != "client_credentials":
        raise StepFailed(f"the first search stored a token obtained by {first['obtained_by']!r}.")
    print(f"   The search obtained a token by client credentials; it expires {first['access_token_expires_at']}.")

    with steps.step("Running orangelogic_token_refresh with force=true (renews by client credentials)"):
        run = box.dags_test(
            "orangelogic_token_refresh", {"force": True}, timeout=COMMAND_TIMEOUT, env=_refresh_only(CC_CONN)
        )
        outputs.append(run.stdout + run.stderr)
        renewed = _status(box, CC_CONN)
        if "Renewed the access token" not in run.stdout + run.stderr or renewed["obtained_at"] == first["obtained_at"]:
            raise StepFailed("the refresh DAG did not renew the client-credentials token.")
        steps.note(f"renewed: the access token now expires {renewed['access_token_expires_at']}.")

    counters, leaked, issued = _account(steps, stand_in, before, outputs, [client_secret])
    print(
        f"\nClient-credentials token calls: {counters['client_credentials_grants']} "
        f"(first use, forced renewal); refresh-token grants: {counters['refresh_token_grants']}.\n"
        f"Search pages served: {counters['search_pages_served']} ({counters['search_items_served']} assets).\n"
        f"Secret scan of all task output: {leaked} of {len(issued)} secrets found.",
        flush=True,
    )
    return leaked == 0 and counters["client_credentials_grants"] == 2 and counters["refresh_token_grants"] == 0


def _bearer_token(steps: Steps, box: AirflowSandbox, stand_in: StandInProcess, client_secret: str) -> bool:
    """A fixed token created in Orange Logic: no token endpoint, no Variable; the refresh DAG skips it."""
    outputs: list[str] = []
    before = stand_in.counters()
    bearer = "lifecycle-bearer-" + secrets.token_urlsafe(16)
    with steps.step(f"Creating the connection {BEARER_CONN} (auth_mode bearer_token, token in the password)"):
        stand_in.configure(bearer_tokens=[bearer])
        box.add_connection(
            BEARER_CONN, conn_type="orangelogic", host=stand_in.url, password=bearer,
            extra={"auth_mode": "bearer_token"},
        )  # fmt: skip

    with steps.step("Running orangelogic_token_refresh with force=true (nothing to refresh for a fixed token)"):
        run = box.dags_test(
            "orangelogic_token_refresh", {"force": True}, timeout=COMMAND_TIMEOUT, env=_refresh_only(BEARER_CONN)
        )
        outputs.append(run.stdout + run.stderr)
        skipped = re.search(r"Nothing to refresh for [\w-]+: ([^\n\[]*)", run.stdout + run.stderr)
        if not skipped:
            raise StepFailed("the refresh DAG did not say it skipped the bearer-token connection.")
        steps.note(f"skipped: {skipped[1]}")

    outputs.append(_search(steps, box, BEARER_CONN))
    counters, leaked, issued = _account(steps, stand_in, before, outputs, [client_secret, bearer])
    print(
        f"\nToken endpoint calls: {counters['token_requests'] + counters['client_credentials_requests']}.\n"
        f"Search pages served: {counters['search_pages_served']} ({counters['search_items_served']} assets).\n"
        f"Secret scan of all task output: {leaked} of {len(issued)} secrets found.",
        flush=True,
    )
    return leaked == 0 and counters["token_requests"] == 0 and counters["client_credentials_requests"] == 0


RUNNERS = {
    "authorization_code": _authorization_code,
    "client_credentials": _client_credentials,
    "bearer_token": _bearer_token,
}


def _search(steps: Steps, box: AirflowSandbox, conn_id: str) -> str:
    with steps.step(f"Running orangelogic_search_example on {conn_id} (airflow dags test)"):
        run = box.dags_test(
            "orangelogic_search_example",
            {"query": "MediaType:Image", "page_size": 100, "conn_id": conn_id},
            timeout=COMMAND_TIMEOUT,
        )
        found = re.search(r"Search '[^']*': (\d+) assets over (\d+) pages?", run.stdout)
        if not found:
            raise StepFailed("the search pipeline did not report its summary.")
        steps.note(f"{found[1]} assets (MediaType:Image) over {found[2]} pages.")
    return run.stdout + run.stderr


def _upload(steps: Steps, box: AirflowSandbox, stand_in: StandInProcess) -> tuple[str, bool]:
    """Upload one file with orangelogic_storage_to_orangelogic and check the stand-in kept the same bytes."""
    source = box.home.parent / "upload" / "lifecycle-photo.jpg"
    source.parent.mkdir(parents=True, exist_ok=True)
    content = b"".join(hashlib.sha256(str(n).encode()).digest() for n in range(8192))  # 256 KiB
    source.write_bytes(content)
    with steps.step("Running orangelogic_storage_to_orangelogic with one file (airflow dags test)"):
        conf = {"source": source.as_uri(), "folder_record_id": "1001", "report_path": "", "conn_id": CODE_CONN}
        run = box.dags_test("orangelogic_storage_to_orangelogic", conf, timeout=COMMAND_TIMEOUT)
        found = re.search(
            r"Uploaded (\S+) \((\d+) bytes, (\w+)\): (\w+), identifier (\S+), record (\w+)", run.stdout + run.stderr
        )
        if not found:
            raise StepFailed("the upload DAG did not report the file it uploaded.")
        kept = [a for a in stand_in.uploads()["assets"] if a["record_id"] == found[6]]
        same = bool(kept) and kept[0]["versions"][-1]["md5"] == hashlib.md5(content, usedforsecurity=False).hexdigest()
        steps.note(
            f"uploaded {source.name} ({found[2]} bytes, {found[3]} call): {found[4]}, identifier {found[5]}, "
            f"record {found[6]}; the stand-in {'stored the same bytes' if same else 'DID NOT store the same bytes'}."
        )
    return run.stdout + run.stderr, found[6] if found[4] == "Success" and same else None


def _update_metadata(
    steps: Steps, box: AirflowSandbox, stand_in: StandInProcess, record_id: str | None
) -> tuple[str, bool]:
    """Set the uploaded asset's title and add two tags with orangelogic_update_metadata; read them back."""
    if record_id is None:
        raise StepFailed("there is no uploaded asset to update.")
    title, tags = "Lifecycle photo", ["lifecycle", "airflow"]
    rows = [
        {
            "RecordID": record_id,
            "fields": {"CoreField.Title": title, "CoreField.Keywords": {"op": "++=", "value": tags}},
        }
    ]
    with steps.step(f"Running orangelogic_update_metadata on record {record_id} (airflow dags test)"):
        run = box.dags_test(
            "orangelogic_update_metadata", {"rows": rows, "conn_id": CODE_CONN}, timeout=COMMAND_TIMEOUT
        )
        found = re.search(r"(\d+) row\(s\), (\d+) ok, (\d+) failed", run.stdout + run.stderr)
        if not found:
            raise StepFailed("the metadata DAG did not report its rows.")
        (asset,) = [a for a in stand_in.uploads()["assets"] if a["record_id"] == record_id]
        written = asset["metadata"]
        landed = written.get("Title") == title and all(tag in str(written.get("Keywords", "")) for tag in tags)
        steps.note(
            f"{found[1]} row, {found[2]} ok, {found[3]} failed: CoreField.Title := {title!r}, CoreField.Keywords ++= "
            f"{'|'.join(tags)}; the stand-in {'holds both' if landed else 'DOES NOT hold them'} "
            f"(Title {written.get('Title')!r}, Keywords {written.get('Keywords')!r})."
        )
    return run.stdout + run.stderr, found[2] == "1" and landed


def _account(
    steps: Steps, stand_in: StandInProcess, before: dict[str, int], outputs: list[str], known: list[str]
) -> tuple[dict[str, int], int, list[str]]:
    """The stand-in's counters for this mode, and how many secrets show in the task output."""
    with steps.step("Reading the stand-in's counters and scanning all task output for secrets"):
        counters = {name: value - before.get(name, 0) for name, value in stand_in.counters().items()}
        issued = [*stand_in.issued_secrets(), *known]
        text = "\n".join(outputs)
        return counters, sum(1 for secret in issued if secret in text), issued


def _refresh_only(conn_id: str) -> dict[str, str]:
    return {"AIRFLOW__ORANGELOGIC__REFRESH_CONN_IDS": conn_id}


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def _hook(box: AirflowSandbox, statement: str) -> str:
    return box.python(HOOK + statement, timeout=COMMAND_TIMEOUT).stdout.strip().splitlines()[-1]


def _status(box: AirflowSandbox, conn_id: str = CODE_CONN) -> dict:
    return json.loads(_hook(box, f"print(json.dumps(OrangeLogicHook({conn_id!r}).token_status()))"))


if __name__ == "__main__":
    sys.exit(main())
