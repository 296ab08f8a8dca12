"""Check one Airflow installation that has the built wheel of this provider installed.

Run by ``scripts/compat.sh`` with the interpreter of a clean virtualenv (that Airflow + the wheel, no
editable install, nothing from this repository on the path). Writes one JSON object: Airflow's version
and, per check, pass/fail, seconds and a short detail (never a secret).

provider   ``airflow providers list`` lists airflow-provider-orangelogic at the wheel's version
imports    hook, operators, DAG factories, stand-in, sandbox import from site-packages
form       the connection form metadata the UI reads (``HookMetaService.hook_meta_data()``, the data behind
           the UI's connection form on every 3.x) has our relabelled standard fields and every declared
           extra field with its label, type, choices and default
config     ``airflow config list`` shows ``[orangelogic]`` with its defaults and descriptions
exchange   the lifecycle on SQLite against the stand-in, each DAG from a two-line DAG file calling the
refresh    package's factories, run by ``airflow dags test``: the code exchange, a forced refresh (its
search     lock file in ``[orangelogic] lock_dir``), a search
storage    the search-to-storage DAG writes a JSON Lines file through ``ObjectStoragePath`` (file://), checked
           record by record against the count it reports
incremental the same factory with ``incremental=True`` (a daily data-interval timetable), run for one day: only
           the assets whose EditDate lies in that day, each once
upload     the upload factory sends a small file in one call and a 2.3 MiB one through the Multi-Part Upload API
           (256 KiB chunks, progress in a Variable, deleted at the end); the stand-in keeps the same bytes
webhook    this venv's ``airflow api-server`` (127.0.0.1, a free port, 1 worker, the sandbox's SQLite DB; stopped
           at the end, its process group killed) with a connection carrying a ``webhook_secret`` and the
           ``webhook_events_dag`` factory's DAG serialized first (``airflow dags reserialize``): over HTTP, an event
           with the secret header is 200 ``recorded``, the same again 200 ``duplicate``, a wrong secret 401; then
           the metadata DB holds exactly one asset event with that extra and the DAG queued on it; then, the API
           server still up (it serves the Task SDK's execution API), this venv's ``airflow scheduler``
           (LocalExecutor, ``--skip-serve-logs``) and ``airflow dag-processor`` on the same DB: within 180 s exactly
           one run of that DAG, success, triggered by that event, whose task's XCom shows the event's identifier and
           the asset's metadata fetched from the stand-in through the hook (client credentials); the secret is in no
           answer and in no output of the API server, scheduler, DAG processor or task logs
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

CLIENT_ID = "compat-client"
REDIRECT_URI = "http://127.0.0.1:8080/orangelogic/callback"
CHECKS = (
    "provider", "imports", "form", "config", "exchange", "refresh", "search", "storage", "incremental", "upload",
    "webhook",
)  # fmt: skip
LIFECYCLE_CHECKS = ("exchange", "refresh", "search", "storage", "incremental", "upload", "webhook")
INCREMENTAL_DAG = (
    "import pendulum\n"
    "from airflow_provider_orangelogic.dags import search_to_storage_dag\n"
    "dag = search_to_storage_dag(dag_id='orangelogic_incremental_sync', incremental=True,\n"
    "                            start_date=pendulum.datetime(2020, 1, 1, tz='UTC'))\n"
)
UPLOAD_DAG = (
    "from airflow_provider_orangelogic.dags import storage_to_orangelogic_dag\n"
    "dag = storage_to_orangelogic_dag(multipart_threshold=1024 * 1024, chunk_size=262144)\n"
)
WEBHOOK_CONN_ID = "orangelogic_webhook"
# Unpaused from the start: Airflow queues only unpaused DAGs on an asset event.
WEBHOOK_DAG = (
    "from airflow_provider_orangelogic.dags import webhook_events_dag\n"
    f"dag = webhook_events_dag(conn_id={WEBHOOK_CONN_ID!r}, is_paused_upon_creation=False)\n"
)
WEBHOOK_DB = """
import json
from sqlalchemy import select, func, table
from airflow.models.asset import AssetDagRunQueue, AssetEvent, AssetModel
from airflow.utils.session import create_session
with create_session() as session:
    asset = session.scalar(select(AssetModel).where(AssetModel.uri == ASSET_URI))
    events = session.scalars(select(AssetEvent).where(AssetEvent.asset_id == asset.id)).all() if asset else []
    queued = session.scalars(
        select(AssetDagRunQueue.target_dag_id).where(AssetDagRunQueue.asset_id == asset.id)).all() if asset else []
    deliveries = session.scalar(select(func.count()).select_from(table("orangelogic_webhook_delivery")))
print("RESULT=" + json.dumps({"asset": asset is not None, "events": [{"id": e.id, "extra": e.extra} for e in events],
                              "queued": sorted(queued), "deliveries": deliveries}))
"""
# The runs of the webhook DAG: state, the asset events each consumed, its task's XCom (return_value).
WEBHOOK_RUNS = """
import json
from sqlalchemy import select
from airflow.models.dagrun import DagRun
from airflow.models.xcom import XComModel
from airflow.utils.session import create_session
found = []
with create_session() as session:
    for run in session.scalars(select(DagRun).where(DagRun.dag_id == DAG_ID)).all():
        xcom = session.scalars(select(XComModel).where(
            XComModel.dag_id == DAG_ID, XComModel.run_id == run.run_id,
            XComModel.task_id == "fetch_metadata", XComModel.key == "return_value")).first()
        value = XComModel.deserialize_value(xcom) if xcom is not None else None
        if isinstance(value, str):
            value = json.loads(value)
        found.append({"run_id": run.run_id, "state": getattr(run.state, "value", run.state),
                      "consumed": sorted(event.id for event in run.consumed_asset_events), "xcom": value})
print("RESULT=" + json.dumps(found, default=str))
"""
WEBHOOK_RUN_SECONDS = 180
TERMINAL_RUN_STATES = ("success", "failed")
TWO_LINE_DAGS = {
    "orangelogic_token_exchange": "token_exchange_dag",
    "orangelogic_token_refresh": "token_refresh_dag",
    "orangelogic_search_example": "search_example_dag",
    "orangelogic_search_to_storage": "search_to_storage_dag",
}

HOOK_META = """
import json
from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService
(meta,) = [m for m in HookMetaService.hook_meta_data() if m.connection_type == "orangelogic"]
print("RESULT=" + json.dumps(meta.model_dump(), default=str))
"""

IMPORTS = """
import json
import airflow_provider_orangelogic as package
from airflow_provider_orangelogic import compat
from airflow_provider_orangelogic.dags import (
    search_example_dag, search_to_storage_dag, token_exchange_dag, token_refresh_dag)
from airflow_provider_orangelogic.hooks.orangelogic import OrangeLogicHook
from airflow_provider_orangelogic.operators.orangelogic import (
    OrangeLogicExchangeCodeOperator, OrangeLogicRefreshTokenOperator)
from airflow_provider_orangelogic.testing import OrangeLogicStandIn, StandInConfig
from airflow_provider_orangelogic.testing.sandbox import AirflowSandbox
print("RESULT=" + json.dumps({"file": package.__file__, "version": package.__version__,
                              "airflow": list(compat.AIRFLOW_VERSION),
                              "declarative_form": compat.DECLARATIVE_CONNECTION_FORM}))
"""


class CheckFailed(AssertionError):
    pass


def result_line(output: str) -> Any:
    lines = [line for line in output.splitlines() if line.startswith("RESULT=")]
    if not lines:
        raise CheckFailed(f"no RESULT line in: {output[-600:]}")
    return json.loads(lines[-1].removeprefix("RESULT="))


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def check_provider(box: Any, wheel_version: str) -> str:
    listed = box.airflow("providers", "list").stdout
    row = [line for line in listed.splitlines() if "airflow-provider-orangelogic" in line]
    expect(bool(row), "airflow-provider-orangelogic is not in `airflow providers list`")
    expect(wheel_version in row[0], f"listed as {row[0].strip()!r}, not version {wheel_version}")
    return f"listed, {wheel_version}"


def check_imports(box: Any, venv: Path) -> str:
    found = result_line(box.python(IMPORTS).stdout)
    location = Path(found["file"]).resolve()
    expect(str(location).startswith(str(venv.resolve())), f"imported from {location}, not from the venv")
    mode = "declarative form" if found["declarative_form"] else "form from hook methods"
    return f"from site-packages; Airflow {found['airflow'][0]}.{found['airflow'][1]} ({mode})"


def check_form(box: Any) -> str:
    from airflow_provider_orangelogic.core import fields

    meta = result_line(box.python(HOOK_META).stdout)
    expect(meta["hook_name"] == "Orange Logic", f"hook name {meta['hook_name']!r}")
    standard = meta.get("standard_fields") or {}
    expect(bool(standard), "no standard-field behaviour (relabelling) in the UI metadata")
    behaviour = fields.ui_field_behaviour()
    for name, label in behaviour["relabeling"].items():
        got = (standard.get(name) or {}).get("title")
        expect(got == label, f"standard field {name} titled {got!r}, expected {label!r}")
    for name in behaviour["hidden_fields"]:
        key = "url_schema" if name == "schema" else name
        expect((standard.get(key) or {}).get("hidden") is True, f"standard field {name} not hidden")
    extra = meta.get("extra_fields") or {}
    expect(sorted(extra) == sorted(fields.EXTRA_FIELD_NAMES), f"extra fields {sorted(extra)}")
    for declared in fields.EXTRA_FIELDS:
        widget = extra[declared.name]
        schema = widget["schema"]
        expect(schema.get("title") == declared.label, f"{declared.name} titled {schema.get('title')!r}")
        expect(declared.description in (widget.get("description") or ""), f"{declared.name}: no description")
        if declared.choices:
            expect(
                [v for v in schema.get("enum", []) if v is not None] == list(declared.choice_values),
                f"{declared.name} choices {schema.get('enum')}",
            )
        if declared.masked or declared.default is None:
            expect(widget.get("value") is None, f"{declared.name} pre-filled with {widget.get('value')!r}")
        else:
            expect(
                str(widget.get("value")) in (str(declared.default), fields.show(declared.default)),
                f"{declared.name} default {widget.get('value')!r}, expected {declared.default!r}",
            )
    return f"{len(behaviour['relabeling'])} relabelled, {len(extra)} extra fields with labels and defaults"


def check_config(box: Any, lock_dir: Path) -> str:
    from airflow_provider_orangelogic.core import config

    # lock_dir is set for this sandbox (AIRFLOW__ORANGELOGIC__LOCK_DIR): listed with that value.
    values = {option.name: option.default or "" for option in config.OPTIONS}
    values[config.LOCK_DIR.name] = str(lock_dir)

    command = ["config", "list", "--section", config.SECTION, "--include-descriptions", "--include-examples"]
    # 3.2+ hides values unless asked; 3.0/3.1 show them and do not know the flag.
    listed = box.airflow(*command, "--show-values", check=False)
    if listed.returncode != 0:
        listed = box.airflow(*command)
    listed = listed.stdout
    expect(f"[{config.SECTION}]" in listed, "no [orangelogic] section in `airflow config list`")
    for option in config.OPTIONS:
        expect(
            re.search(rf"^{option.name} = {re.escape(values[option.name])}\s*$", listed, re.MULTILINE) is not None,
            f"{option.name} not listed with the value {values[option.name]!r}",
        )
        expect(option.description[:60] in listed, f"{option.name}: description not listed")
    return f"[{config.SECTION}] with {len(config.OPTIONS)} options, descriptions, examples and values"


def write_two_line_dags(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for dag_id, factory in TWO_LINE_DAGS.items():
        (folder / f"{dag_id}.py").write_text(
            f"from airflow_provider_orangelogic.dags import {factory}\ndag = {factory}()\n", encoding="utf-8"
        )
    (folder / "orangelogic_incremental_sync.py").write_text(INCREMENTAL_DAG, encoding="utf-8")
    (folder / "orangelogic_storage_to_orangelogic.py").write_text(UPLOAD_DAG, encoding="utf-8")
    (folder / "orangelogic_webhook_events.py").write_text(WEBHOOK_DAG, encoding="utf-8")


def dags_test(box: Any, dag_id: str, conf: dict[str, Any], logical_date: str | None = None) -> Any:
    """``airflow dags test``; a failure keeps the output's tail."""
    run = box.dags_test(dag_id, conf, check=False, **({"logical_date": logical_date} if logical_date else {}))
    if run.returncode != 0:
        tail = "\n".join((run.stdout + run.stderr).splitlines()[-40:])
        raise CheckFailed(f"airflow dags test {dag_id} exited {run.returncode}:\n{tail}")
    return run


def token_status(box: Any) -> dict[str, Any]:
    code = (
        "import json\nfrom airflow_provider_orangelogic.hooks.orangelogic import OrangeLogicHook\n"
        "print('RESULT=' + json.dumps(OrangeLogicHook('orangelogic_default').token_status()))\n"
    )
    return result_line(box.python(code).stdout)


def control_plane_env(box: Any) -> tuple[str, dict[str, str]]:
    """The environment the API server, scheduler and DAG processor share (tests/e2e/deployment.py's embedded
    deployment: LocalExecutor on the sandbox's SQLite DB), and the API server's URL (127.0.0.1, a free port).

    The scheduler signs the tokens tasks present on the execution API with the JWT secret; the API server checks
    them, so both get the same one.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    env = {
        **box.env,
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API__BASE_URL": url,
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(48),
        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
        # A task's execution API calls time out after 5 s by default; a busy machine answers later (e2e harness).
        "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "60",
    }
    env.setdefault("AIRFLOW__CORE__EXECUTION_API_SERVER_URL", f"{url}/execution/")
    return url, env


def redacted_tail(log_path: Path, hidden: tuple[str, ...], lines: int = 25) -> str:
    text = log_path.read_text(errors="replace") if log_path.exists() else "(no output)"
    for value in hidden:
        text = text.replace(value, "***")
    return "\n".join(text.splitlines()[-lines:])


@contextlib.contextmanager
def airflow_process(args: list[str], env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m airflow <args>`` of this venv in its own process group, output to *log_path*.

    Stopped on leaving, whatever happened: SIGTERM to its process group, SIGKILL after 15 s, then SIGKILL to
    whatever of the group outlived it (LocalExecutor workers, task supervisors).
    """
    with log_path.open("ab") as log:  # the child has its own copy of the descriptor
        process = subprocess.Popen(  # noqa: S603 - this interpreter, our own arguments
            [sys.executable, "-m", "airflow", *args], env=env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # anything of its group that outlived it


@contextlib.contextmanager
def api_server(url: str, env: dict[str, str], log_path: Path, hidden: tuple[str, ...]) -> Iterator[str]:
    """This venv's ``airflow api-server`` at *url* (1 worker, *env* from ``control_plane_env``); its URL.

    No Airflow login is used (the webhook route has none), so no user or token is set up. Stopped on leaving
    (``airflow_process``).
    """
    import requests

    port = url.rsplit(":", 1)[1]
    command = ["api-server", "--host", "127.0.0.1", "--port", port, "--workers", "1"]
    with airflow_process(command, env, log_path) as server:
        deadline = time.monotonic() + 120
        while True:
            if server.poll() is not None:
                raise CheckFailed(f"airflow api-server exited {server.returncode}:\n{redacted_tail(log_path, hidden)}")
            try:
                if requests.get(f"{url}/api/v2/monitor/health", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise CheckFailed(f"airflow api-server not healthy within 120 s:\n{redacted_tail(log_path, hidden)}")
            time.sleep(0.5)
        yield url


def wait_for_webhook_run(
    box: Any, dag_id: str, processes: dict[str, tuple[subprocess.Popen[bytes], Path]], hidden: tuple[str, ...]
) -> list[dict[str, Any]]:
    """Poll the metadata DB until every run of *dag_id* is finished (and there is one); its runs."""
    deadline = time.monotonic() + WEBHOOK_RUN_SECONDS
    runs: list[dict[str, Any]] = []
    while True:
        for name, (process, log_path) in processes.items():
            if process.poll() is not None:
                raise CheckFailed(f"airflow {name} exited {process.returncode}:\n{redacted_tail(log_path, hidden)}")
        runs = result_line(box.python(WEBHOOK_RUNS.replace("DAG_ID", repr(dag_id))).stdout)
        if runs and all(run["state"] in TERMINAL_RUN_STATES for run in runs):
            return runs
        if time.monotonic() > deadline:
            states = [run["state"] for run in runs]
            tails = "\n".join(
                f"--- {name}:\n{redacted_tail(path, hidden, 15)}" for name, (_, path) in processes.items()
            )
            raise CheckFailed(f"no finished run of {dag_id} within {WEBHOOK_RUN_SECONDS} s (runs: {states}):\n{tails}")
        time.sleep(2)


def run_lifecycle(box: Any, lock_dir: Path, record: Callable[..., None]) -> None:
    from airflow_provider_orangelogic.testing.browser import follow_authorization
    from airflow_provider_orangelogic.testing.process import StandInProcess

    client_secret = "compat-" + secrets.token_urlsafe(12)
    outputs: list[str] = []
    with StandInProcess(
        client_id=CLIENT_ID, client_secret=client_secret, redirect_uri=REDIRECT_URI, max_runtime=1800
    ) as stand_in:

        def exchange() -> str:
            box.migrate()
            box.add_connection(
                "orangelogic_default",
                conn_type="orangelogic",
                host=stand_in.url,
                login=CLIENT_ID,
                password=client_secret,
                extra={"redirect_uri": REDIRECT_URI},
            )
            code = (
                "from airflow_provider_orangelogic.hooks.orangelogic import OrangeLogicHook\n"
                "print('RESULT=\"' + OrangeLogicHook('orangelogic_default').get_authorization_url() + '\"')\n"
            )
            url = result_line(box.python(code).stdout)
            run = dags_test(
                box,
                "orangelogic_token_exchange",
                {"code": follow_authorization(url).location, "conn_id": "orangelogic_default"},
            )
            outputs.append(run.stdout + run.stderr)
            status = token_status(box)
            expect(status.get("obtained_by") == "authorization_code", f"after the exchange: {status}")
            expect(bool(status.get("access_token_valid")), "no valid access token after the exchange")
            return "pair stored in the Variable by the exchange DAG"

        def refresh() -> str:
            before = token_status(box)
            run = dags_test(box, "orangelogic_token_refresh", {"force": True})
            outputs.append(run.stdout + run.stderr)
            after = token_status(box)
            expect(after.get("obtained_by") == "refresh_token", f"after the refresh: obtained_by {after}")
            expect(after.get("obtained_at") != before.get("obtained_at"), "the refresh stored no new pair")
            counters = stand_in.counters()
            expect(counters.get("refresh_token_reuses", 0) == 0, "a refresh token was presented twice")
            locks = sorted(p.name for p in lock_dir.glob("*.lock"))
            expect(bool(locks), f"no lock file in [orangelogic] lock_dir {lock_dir}")
            return f"refreshed with the refresh token; lock in [orangelogic] lock_dir ({len(locks)} file)"

        def search() -> str:
            run = dags_test(box, "orangelogic_search_example", {"query": "MediaType:Image", "page_size": 50})
            outputs.append(run.stdout + run.stderr)
            found = re.search(r"Search '[^']*': (\d+) assets over (\d+) pages", run.stdout + run.stderr)
            expect(found is not None and int(found[1]) > 0, "the search DAG reported no assets")
            issued = (*stand_in.issued_secrets(), client_secret)
            lines = [line for output in outputs for line in output.splitlines()]
            # Airflow 3.0's `dags test` echoes every Task SDK message at debug level, the values sent to the
            # secrets masker included: Airflow's own output, not the provider's (3.1+ does not).
            echo = [
                line
                for line in lines
                if "[debug" in line and ("Sending request" in line or "Received message from task runner" in line)
            ]
            leaked = [s for s in issued if any(s in line for line in lines if line not in echo)]
            expect(not leaked, f"{len(leaked)} secret(s) in the task output")
            note = f"; {len(echo)} Task SDK debug echo lines of `dags test` not scanned" if echo else ""
            return f"{found[1]} assets over {found[2]} pages; no secret in the task output{note}"

        def storage() -> str:
            base = box.home.parent / "storage"
            run = dags_test(
                box,
                "orangelogic_search_to_storage",
                {"query": "MediaType:Image", "page_size": 20, "concurrency": 2, "base_path": base.as_uri()},
            )
            outputs.append(run.stdout + run.stderr)
            wrote = re.search(r"Wrote (\d+) asset\(s\) from (\d+) page\(s\) to (\S+)", run.stdout + run.stderr)
            expect(wrote is not None, "the search-to-storage DAG did not report what it wrote")
            files = sorted(base.rglob("*.jsonl"))
            expect(len(files) == 1, f"expected one .jsonl file under {base}, found {[f.name for f in files]}")
            records = [json.loads(line) for line in files[0].read_text(encoding="utf-8").splitlines()]
            ids = {record.get("SystemIdentifier") for record in records}
            expect(len(records) == int(wrote[1]) > 0, f"{len(records)} lines in the file, {wrote[1]} reported")
            expect(len(ids) == len(records) and None not in ids, "duplicate or missing SystemIdentifier")
            leftovers = [p.name for p in base.rglob("*") if p.is_file() and p != files[0]]
            expect(not leftovers, f"temporary files left beside the result: {leftovers}")
            return f"{len(records)} distinct records in {files[0].name} via ObjectStoragePath"

        def incremental() -> str:
            base = box.home.parent / "incremental"
            run = dags_test(box, "orangelogic_incremental_sync", {"base_path": base.as_uri()}, "2020-01-02")
            outputs.append(run.stdout + run.stderr)
            files = sorted(base.rglob("*.jsonl"))
            expect([f.name for f in files] == ["2020-01-01T000000Z.jsonl"], f"files: {[f.name for f in files]}")
            records = [json.loads(line) for line in files[0].read_text(encoding="utf-8").splitlines()]
            outside = [
                r for r in records if not "2020-01-01T00:00:00Z" <= r.get("EditDate", "") < "2020-01-02T00:00:00Z"
            ]
            ids = {record.get("SystemIdentifier") for record in records}
            expect(records and not outside, f"{len(outside)} of {len(records)} records edited outside the day")
            expect(len(ids) == len(records), "duplicate SystemIdentifier")
            return f"{len(records)} assets edited on 2020-01-01 (of the catalogue's 63), one file for the interval"

        def upload() -> str:
            import hashlib

            source = box.home.parent / "upload"
            source.mkdir(parents=True, exist_ok=True)
            files = {"small.jpg": b"jpeg" * 1000, "large.mov": bytes(range(256)) * 9000 + b"end"}
            for name, content in files.items():
                (source / name).write_bytes(content)
            conf = {"source": source.as_uri(), "folder_record_id": "99", "report_path": "", "concurrency": 3}
            run = dags_test(box, "orangelogic_storage_to_orangelogic", conf)
            outputs.append(run.stdout + run.stderr)
            kept = {asset["file_name"]: asset for asset in stand_in.uploads()["assets"]}
            for name, content in files.items():
                expect(name in kept, f"{name} was not uploaded")
                md5 = hashlib.md5(content, usedforsecurity=False).hexdigest()
                expect(kept[name]["versions"][-1]["md5"] == md5, f"{name}: the stand-in kept other bytes")
            chunks = stand_in.counters().get("chunks_received", 0)
            expect(chunks == -(-len(files["large.mov"]) // 262144), f"{chunks} chunks received")
            leftover = box.python(
                "from airflow.models.variable import Variable\nfrom airflow.utils.session import create_session\n"
                "with create_session() as s:\n"
                "    print(s.query(Variable).filter(Variable.key.like('orangelogic_upload_%')).count())\n"
            ).stdout.split()[-1]
            expect(leftover == "0", f"{leftover} upload progress Variable(s) left")
            return f"2 files byte for byte (one call; {chunks} chunks multi-part); no progress Variable left"

        def webhook() -> str:
            import requests

            secret = secrets.token_urlsafe(32)
            hidden = (secret, client_secret)
            box.add_connection(
                WEBHOOK_CONN_ID,
                conn_type="orangelogic",
                host=stand_in.url,
                login=CLIENT_ID,
                password=client_secret,
                # Client credentials: the DAG's task gets its own token (no exchange was made for this connection).
                extra={"redirect_uri": REDIRECT_URI, "webhook_secret": secret, "auth_mode": "client_credentials"},
            )
            # The DAG scheduled on orangelogic://<conn>/created into the DB, so that the asset exists.
            box.airflow("dags", "reserialize")
            dag_id = f"orangelogic_created_{WEBHOOK_CONN_ID}"
            # An asset of the stand-in's catalogue (OL0000001..OL0000063), so that the task finds its metadata.
            identifier = f"OL{secrets.randbelow(63) + 1:07d}"
            event = {
                "EventID": f"evt-compat-{secrets.token_hex(6)}",
                "EventType": "Asset.Created",
                "SystemIdentifier": identifier,
                "RecordID": "4242",
                "Timestamp": "2026-12-07T10:00:00Z",
            }
            body = json.dumps(event).encode()
            logs = {name: box.home.parent / f"{name}.log" for name in ("api-server", "scheduler", "dag-processor")}
            url, env = control_plane_env(box)
            with api_server(url, env, logs["api-server"], hidden):
                endpoint = f"{url}/orangelogic/webhooks/{WEBHOOK_CONN_ID}"

                def post(presented: str) -> Any:
                    headers = {"Content-Type": "application/json", "X-OrangeLogic-Webhook-Secret": presented}
                    return requests.post(endpoint, data=body, headers=headers, timeout=60)

                answers = [post(secret), post(secret), post("wrong-" + secrets.token_urlsafe(32))]
                texts = [answer.text for answer in answers]
                expect(not any(secret in text for text in texts), "the secret is in an answer")
                got = [(a.status_code, a.json().get("outcome") if a.status_code == 200 else None) for a in answers]
                expect(got == [(200, "recorded"), (200, "duplicate"), (401, None)], f"answers {got}: {texts}")
                uri = answers[0].json()["asset"]
                # Before any scheduler runs: the event recorded once and the DAG queued on it.
                found = result_line(box.python(WEBHOOK_DB.replace("ASSET_URI", repr(uri))).stdout)
                expect(found["asset"], f"no asset {uri} in the metadata DB")
                expect(len(found["events"]) == 1, f"{len(found['events'])} asset events on the asset, expected 1")
                (recorded,) = found["events"]
                answered = answers[0].json().get("asset_event_id")
                expect(recorded["id"] == answered, f"event {recorded} not the one answered")
                wanted = {"event_id": event["EventID"], "identifier": identifier, "record_id": "4242"}
                wanted["source"] = "webhook"
                expect(
                    all(recorded["extra"].get(k) == v for k, v in wanted.items()),
                    f"the event's extra: {recorded['extra']}",
                )
                expect(found["queued"] == [dag_id], f"queued on the asset: {found['queued']}, expected [{dag_id}]")
                expect(found["deliveries"] == 1, f"{found['deliveries']} rows in orangelogic_webhook_delivery")
                # The queued DAG runs: scheduler (LocalExecutor; its log server would listen on every interface)
                # and DAG processor, stopped (process groups killed) before the API server.
                started = time.monotonic()
                with (
                    airflow_process(["scheduler", "--skip-serve-logs"], env, logs["scheduler"]) as scheduler,
                    airflow_process(["dag-processor"], env, logs["dag-processor"]) as processor,
                ):
                    processes = {
                        "scheduler": (scheduler, logs["scheduler"]),
                        "dag-processor": (processor, logs["dag-processor"]),
                    }
                    runs = wait_for_webhook_run(box, dag_id, processes, hidden)
                waited = time.monotonic() - started
            for name, path in logs.items():
                expect(not any(h in path.read_text(errors="replace") for h in hidden), f"a secret is in the {name} log")
            task_logs = sorted(p for p in box.log_folder.rglob("*") if p.is_file() and dag_id in str(p))
            leaked = [p.name for p in task_logs if any(h in p.read_text(errors="replace") for h in hidden)]
            expect(not leaked, f"a secret is in {len(leaked)} task log file(s)")
            expect(len(runs) == 1, f"{len(runs)} runs of {dag_id}: {[r['state'] for r in runs]}, expected 1")
            (run,) = runs
            if run["state"] != "success":
                failed = "\n".join(redacted_tail(path, hidden, 15) for path in task_logs[-2:])
                raise CheckFailed(f"the run of {dag_id} ended {run['state']}:\n{failed}")
            expect(run["consumed"] == [recorded["id"]], f"the run consumed events {run['consumed']}, not the recorded")
            fetched = run["xcom"]
            expect(isinstance(fetched, list) and len(fetched) == 1, f"the task's XCom: {str(fetched)[:300]}")
            saw = fetched[0].get("extra", {}).get("identifier")
            metadata = fetched[0].get("metadata") or {}
            expect(saw == identifier, f"the task saw identifier {saw!r}, expected {identifier!r}")
            expect(metadata.get("SystemIdentifier") == identifier, f"metadata fetched: {str(metadata)[:300]}")
            return (
                f"POST 200 recorded, replay 200 duplicate, wrong secret 401; 1 asset event with extra "
                f"identifier={identifier}, DAG {dag_id} queued; DAG run success ({waited:.0f} s after the scheduler "
                f"started), saw identifier={saw} and fetched its metadata ({metadata.get('MediaType')})"
            )

        steps = (("exchange", exchange), ("refresh", refresh), ("search", search), ("storage", storage))
        for name, step in (*steps, ("incremental", incremental), ("upload", upload), ("webhook", webhook)):
            if not record(name, step):
                break  # the later steps need the earlier ones


def main() -> int:
    parser = argparse.ArgumentParser(description="Check this Airflow + the installed provider wheel.")
    parser.add_argument("--workdir", required=True, help="an empty folder for AIRFLOW_HOME and the DAG files")
    parser.add_argument("--venv", required=True, help="the virtualenv under test (the package must load from it)")
    parser.add_argument("--wheel-version", required=True)
    parser.add_argument("--json", required=True, help="where to write the results")
    parser.add_argument(
        "--stop-early", action="store_true", help="skip the checks after the first failure (scripts/drift.py)"
    )
    args = parser.parse_args()

    from importlib.metadata import version

    from airflow_provider_orangelogic.testing.sandbox import AirflowSandbox

    workdir = Path(args.workdir)
    lock_dir = workdir / "configured-locks"
    box = AirflowSandbox(
        workdir / "airflow",
        workdir / "dags",
        # The option under test; the sandbox's ORANGELOGIC_LOCK_DIR is what it overrides.
        extra_env={"AIRFLOW__ORANGELOGIC__LOCK_DIR": str(lock_dir)},
    )
    write_two_line_dags(workdir / "dags")
    results: dict[str, Any] = {"airflow": version("apache-airflow"), "checks": {}}

    def record(name: str, check: Callable[[], str]) -> bool:
        if args.stop_early and any(not c["ok"] for c in results["checks"].values()):
            results["checks"][name] = {"ok": False, "seconds": 0, "detail": "not run (stopped at the first failure)"}
            return False
        started = time.monotonic()
        try:
            detail, ok = check(), True
        except Exception as error:
            detail, ok = f"{type(error).__name__}: {error}"[-1500:], False
            traceback.print_exc()
        results["checks"][name] = {"ok": ok, "seconds": round(time.monotonic() - started, 1), "detail": detail}
        print(f"  {name:9} {'pass' if ok else 'FAIL'}  {detail.splitlines()[0][:150]}", flush=True)
        return ok

    record("provider", lambda: check_provider(box, args.wheel_version))
    record("imports", lambda: check_imports(box, Path(args.venv)))
    record("form", lambda: check_form(box))
    record("config", lambda: check_config(box, lock_dir))
    try:
        run_lifecycle(box, lock_dir, record)
    except Exception as error:  # the stand-in did not start
        for name in LIFECYCLE_CHECKS:
            results["checks"].setdefault(name, {"ok": False, "seconds": 0, "detail": f"{error}"})
    for name in CHECKS:
        results["checks"].setdefault(name, {"ok": False, "seconds": 0, "detail": "not run (an earlier step failed)"})
    Path(args.json).write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0 if all(c["ok"] for c in results["checks"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
