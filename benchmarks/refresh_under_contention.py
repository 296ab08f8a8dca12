"""Refresh under contention (point 2 of docs/benchmarks.md): many callers ask for a token as it expires.

The stand-in runs in strict mode (single-use refresh tokens; presenting a rotated-out one revokes
the whole grant). A pair with a short access lifetime is stored in a file shared by every caller;
all callers, in one or several processes, wake up together just after the access token expired
and ask for a token:

- ``token_manager``: each caller has its own ``TokenManager`` (refresh_on_demand) over the shared file
  store and lock directory, as separate tasks on one host would;
- ``requests_oauthlib``: each caller has its own requests-oauthlib ``OAuth2Session`` built from the same
  stored token, with automatic refresh, and makes one Search call.

The driver side (:func:`run`) starts the workers (``python -m benchmarks.refresh_under_contention``), stores the
pair, tells every worker the wall-clock instant to fire, then reads the stand-in's counters. A
worker talks over stdin/stdout, one line each way per step: READY, <start time>, DONE, VERIFY,
RESULT <json>. Tokens never leave the worker; results carry fingerprints only.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

import requests

from airflow_provider_orangelogic.core.settings import OrangeLogicSettings
from airflow_provider_orangelogic.oauth.grants import AuthorizationCodeGrant
from airflow_provider_orangelogic.oauth.manager import TokenManager
from airflow_provider_orangelogic.oauth.token_endpoint import TokenEndpointClient
from benchmarks.common import (
    CLIENT_ID,
    CLIENT_SECRET,
    HTTP_TIMEOUT,
    REDIRECT_URI,
    REPO,
    SEARCH_ENDPOINT,
    SEARCH_PARAMS,
    FileStore,
    StandInProcess,
    fingerprint,
    median,
    oauthlib_session,
)

# (label, mode, processes, threads per process)
SCENARIOS: tuple[tuple[str, str, int, int], ...] = (
    ("TokenManager, 1 caller alone", "token_manager", 1, 1),
    ("TokenManager, 32 threads", "token_manager", 1, 32),
    ("TokenManager, 4 processes x 8 threads", "token_manager", 4, 8),
    ("OAuth2Session, 1 caller alone", "requests_oauthlib", 1, 1),
    ("OAuth2Session, 32 threads", "requests_oauthlib", 1, 32),
    ("OAuth2Session, 4 processes x 8 threads", "requests_oauthlib", 4, 8),
)
# Seconds the first access token lives: long enough for every worker to load the pair before it
# expires, short enough not to stretch the run.
FIRST_ACCESS_LIFETIME = 2
# Fire this long after the stored expiry, so both libraries consider the token expired.
FIRE_AFTER_EXPIRY = 0.05
STEP_TIMEOUT = 60.0


def bench_settings(base_url: str) -> OrangeLogicSettings:
    return OrangeLogicSettings.from_connection_fields(
        conn_id="bench",
        host=base_url,
        login=CLIENT_ID,
        password=CLIENT_SECRET,
        extra={"redirect_uri": REDIRECT_URI, "refresh_on_demand": True},
    )


# -- worker side --------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What one caller saw. Times are seconds after the common start instant."""

    warmed: float | None = None
    started: float | None = None
    held: float | None = None
    error: str | None = None
    first_status: int | None = None
    verify_status: int | None = None
    fingerprint: str | None = None
    token: str | None = field(default=None, repr=False)


def _sleep_until(instant: float) -> None:
    delay = instant - time.time()
    if delay > 0:
        time.sleep(delay)


def _token_manager_caller(
    args: argparse.Namespace, start_at: float, outcome: Outcome, ready: threading.Barrier
) -> None:
    settings = bench_settings(args.base_url)
    manager = TokenManager(
        settings,
        AuthorizationCodeGrant(TokenEndpointClient(settings)),
        FileStore(args.store),
        lock_dir=args.lock_dir,
        wait_for_refresh=STEP_TIMEOUT,
    )
    manager.access_token()  # still valid: now cached in memory, as in a long-running task
    outcome.warmed = time.time() - start_at
    ready.wait()
    _sleep_until(start_at)
    outcome.started = time.time() - start_at
    try:
        token = manager.access_token()
    except Exception as err:
        outcome.error = type(err).__name__
        return
    outcome.held = time.time() - start_at
    outcome.token = token


def _requests_oauthlib_caller(
    args: argparse.Namespace, start_at: float, outcome: Outcome, ready: threading.Barrier
) -> None:
    pair = FileStore(args.store).load()
    if pair is None:
        raise RuntimeError("no pair stored")

    def token_updater(token: dict[str, Any]) -> None:
        outcome.held = time.time() - start_at
        outcome.token = token.get("access_token")

    session = oauthlib_session(args.base_url, pair, token_updater)
    outcome.warmed = time.time() - start_at
    ready.wait()
    _sleep_until(start_at)
    outcome.started = time.time() - start_at
    try:
        response = session.get(args.base_url + SEARCH_ENDPOINT, params=SEARCH_PARAMS, timeout=HTTP_TIMEOUT)
    except Exception as err:
        outcome.error = type(err).__name__
        return
    outcome.first_status = response.status_code


def _guarded(
    target: Any, args: argparse.Namespace, start_at: float, outcome: Outcome, ready: threading.Barrier
) -> None:
    """Record a failure while setting up as the caller's error, and release the other callers."""
    try:
        target(args, start_at, outcome, ready)
    except Exception as err:
        outcome.error = outcome.error or f"setup {type(err).__name__}"
        ready.abort()


def worker_main(args: argparse.Namespace) -> int:
    # The stand-in speaks plain HTTP on 127.0.0.1; oauthlib refuses that unless told it is fine.
    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
    if args.mode == "requests_oauthlib":
        import requests_oauthlib  # noqa: F401 - imported before READY, so it costs nothing at fire time
    print("READY", flush=True)
    start_at = float(sys.stdin.readline())
    target = _token_manager_caller if args.mode == "token_manager" else _requests_oauthlib_caller
    outcomes = [Outcome() for _ in range(args.threads)]
    ready = threading.Barrier(args.threads)
    threads = [
        threading.Thread(target=_guarded, args=(target, args, start_at, outcome, ready), daemon=True)
        for outcome in outcomes
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(STEP_TIMEOUT)
    print("DONE", flush=True)
    if sys.stdin.readline().strip() != "VERIFY":
        return 1
    # After every caller of every process is done: does each caller's token still work?
    with requests.Session() as session:
        for outcome in outcomes:
            if outcome.token:
                response = session.get(
                    args.base_url + SEARCH_ENDPOINT,
                    params=SEARCH_PARAMS,
                    headers={"Authorization": f"Bearer {outcome.token}"},
                    timeout=HTTP_TIMEOUT,
                )
                outcome.verify_status = response.status_code
            outcome.fingerprint = fingerprint(outcome.token)
            outcome.token = None
    print("RESULT " + json.dumps([asdict(outcome) for outcome in outcomes]), flush=True)
    return 0


# -- driver side --------------------------------------------------------------------------------


class _Worker:
    """One worker process, its stdout read line by line by a thread so that reads can time out."""

    def __init__(self, command: list[str], stderr: IO[str]) -> None:
        self.process = subprocess.Popen(
            command, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def expect(self, prefix: str) -> str:
        deadline = time.monotonic() + STEP_TIMEOUT
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise RuntimeError(f"a contention worker sent no {prefix} in {STEP_TIMEOUT:g} s") from None
            if line is None:
                raise RuntimeError(f"a contention worker exited before {prefix}")
            if line.startswith(prefix):
                return line[len(prefix) :].strip()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


def run_trial(standin: StandInProcess, mode: str, processes: int, threads: int) -> dict[str, Any]:
    standin.reset()
    standin.configure(access_lifetime=FIRST_ACCESS_LIFETIME, strict=True, rotate_refresh_token=True)
    with tempfile.TemporaryDirectory(prefix="ol-bench-contention-") as tmp:
        store = FileStore(Path(tmp) / "pair.json")
        lock_dir = str(Path(tmp) / "locks")
        command = [
            sys.executable,
            "-m",
            "benchmarks.refresh_under_contention",
            "--mode",
            mode,
            "--threads",
            str(threads),
            "--base-url",
            standin.url,
            "--store",
            str(store.path),
            "--lock-dir",
            lock_dir,
        ]
        with open(Path(tmp) / "workers.log", "w+") as log:
            workers = [_Worker(command, log) for _ in range(processes)]
            try:
                for worker in workers:
                    worker.expect("READY")
                settings = bench_settings(standin.url)
                grant = AuthorizationCodeGrant(TokenEndpointClient(settings))
                manager = TokenManager(settings, grant, store, lock_dir=lock_dir)
                pair = manager.exchange_code(standin.authorize())
                # Tokens issued from now on (the refreshed ones) outlive the measurement.
                standin.configure(access_lifetime=3600)
                start_at = pair.access_expiry_ts + FIRE_AFTER_EXPIRY
                for worker in workers:
                    worker.send(repr(start_at))
                for worker in workers:
                    worker.expect("DONE")
                counters = standin.counters()
                for worker in workers:
                    worker.send("VERIFY")
                outcomes: list[dict[str, Any]] = []
                for worker in workers:
                    outcomes += json.loads(worker.expect("RESULT"))
                for worker in workers:
                    worker.process.wait(timeout=STEP_TIMEOUT)
            except Exception:
                log.seek(0)
                sys.stderr.write(log.read()[-3000:])
                raise
            finally:
                for worker in workers:
                    worker.close()
    return summarize_trial(outcomes, counters, processes * threads)


def summarize_trial(outcomes: list[dict[str, Any]], counters: dict[str, int], callers: int) -> dict[str, Any]:
    holding = [o for o in outcomes if o["fingerprint"] and o["held"] is not None and not o["error"]]
    errors: dict[str, int] = {}
    for outcome in outcomes:
        if outcome["error"]:
            errors[outcome["error"]] = errors.get(outcome["error"], 0) + 1
    return {
        "callers": callers,
        # The code exchange that stored the first pair is the only token call before the storm.
        "token_calls": counters["token_requests"] - counters["authorization_code_grants"],
        "refresh_grants": counters["refresh_token_grants"],
        "refresh_token_reuses": counters["refresh_token_reuses"],
        "grants_revoked": counters["grants_revoked"],
        "holding_new_token": len(holding),
        "distinct_tokens": len({o["fingerprint"] for o in holding}),
        "working_after": sum(1 for o in outcomes if o["verify_status"] == 200),
        "errors": errors,
        "invalid_grant_failures": errors.get("InvalidGrantError", 0) + errors.get("ReauthorizationRequired", 0),
        "all_hold_ms": max(o["held"] for o in holding) * 1000 if len(holding) == callers else None,
        "start_skew_ms": max(o["started"] or 0.0 for o in outcomes) * 1000,
        # Callers that loaded the pair so late that it already looked expired to the token
        # manager (its leeway is 5% of the lifetime): their figure is not a warm start.
        "late_warmups": sum(
            1
            for o in outcomes
            if o["warmed"] is None or o["warmed"] > -(FIRE_AFTER_EXPIRY + 0.05 * FIRST_ACCESS_LIFETIME)
        ),
    }


def run(standin: StandInProcess, trials: int) -> list[dict[str, Any]]:
    """Every scenario, ``trials`` times, interleaved; returns one summary per scenario."""
    per_scenario: dict[str, list[dict[str, Any]]] = {label: [] for label, *_ in SCENARIOS}
    for _ in range(trials):
        for label, mode, processes, threads in SCENARIOS:
            per_scenario[label].append(run_trial(standin, mode, processes, threads))
    summaries = []
    for label, mode, processes, threads in SCENARIOS:
        results = per_scenario[label]
        hold_times = [r["all_hold_ms"] for r in results if r["all_hold_ms"] is not None]
        summaries.append(
            {
                "scenario": label,
                "mode": mode,
                "processes": processes,
                "threads": threads,
                "trials": results,
                "token_calls": median([r["token_calls"] for r in results]),
                "token_calls_max": max(r["token_calls"] for r in results),
                "refresh_token_reuses": median([r["refresh_token_reuses"] for r in results]),
                "revoked_trials": sum(1 for r in results if r["grants_revoked"]),
                "invalid_grant_failures": median([r["invalid_grant_failures"] for r in results]),
                "holding_new_token": median([r["holding_new_token"] for r in results]),
                "working_after": median([r["working_after"] for r in results]),
                "distinct_tokens_max": max(r["distinct_tokens"] for r in results),
                "all_hold_ms": median(hold_times) if len(hold_times) == len(results) else None,
                "start_skew_ms": median([r["start_skew_ms"] for r in results]),
                "late_warmups": sum(r["late_warmups"] for r in results),
            }
        )
    return summaries


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A contention worker (started by the benchmark driver).")
    parser.add_argument("--mode", choices=("token_manager", "requests_oauthlib"), required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--store", required=True)
    parser.add_argument("--lock-dir", required=True)
    return worker_main(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
