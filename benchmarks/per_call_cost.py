"""Per-call cost (point 1 of docs/benchmarks.md): one Search call, OrangeLogicHook against the alternatives.

Runs as ``python -m benchmarks.per_call_cost`` in a subprocess with the Airflow sandbox's
environment, outside any task: the hook then reads its connection and Variable from the metadata
DB through ``airflow.models``, as it does from the CLI or a Python shell.

Variants, each sending the same GET /API/search/v4.0/search?format=json&countperpage=1:

- ``bare_session`` (the floor): a bare requests.Session with a fixed Authorization header;
- ``hook_get_conn``: the session of ``OrangeLogicHook.get_conn()``;
- ``hook_request``: ``OrangeLogicHook.request()`` (URL building, retry loop, response check);
- ``variable_read_per_call``: read the Variable and build a new session on every call;
- ``http_hook``: Airflow's HttpHook.run() with a static bearer header;
- ``requests_oauthlib``: requests-oauthlib's OAuth2Session with automatic refresh configured.

The same six variants are then measured once more with the network taken out (a requests
adapter that answers at once with a recorded Search answer), which isolates the client-side cost.

Every trial runs all variants in short interleaved chunks, in an order rotated per round, so that
a slow spell of the (noisy, 2-core) machine hits them all alike and per-trial ratios stay stable.
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

from benchmarks.common import HTTP_TIMEOUT, SEARCH_ENDPOINT, SEARCH_PARAMS, oauthlib_session, write_json

VARIANTS = (
    "bare_session",
    "hook_get_conn",
    "hook_request",
    "variable_read_per_call",
    "http_hook",
    "requests_oauthlib",
)
# The variants that go through OrangeLogicHook, whose Variable reads are the ones worth counting.
HOOK_VARIANTS = ("hook_get_conn", "hook_request")


class ReadCounter:
    """Counts VariableTokenStore.load calls by wrapping the method in this process only."""

    def __init__(self) -> None:
        self.value = 0
        from airflow_provider_orangelogic.hooks.variable_store import VariableTokenStore

        original = VariableTokenStore.load

        def counting_load(store: VariableTokenStore) -> Any:
            self.value += 1
            return original(store)

        VariableTokenStore.load = counting_load  # type: ignore[method-assign]


class CannedAdapter(BaseAdapter):
    """Answers every request at once with a recorded Search answer: the client side without I/O.

    With the network and the server taken out, what is left is exactly what each client stacks
    on a call (session set-up, token handling, Variable reads), free of the server's noise.
    """

    def __init__(self, recorded: requests.Response) -> None:
        super().__init__()
        self.status = recorded.status_code
        self.headers = dict(recorded.headers)
        self.body = recorded.content

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        response = requests.Response()
        response.status_code = self.status
        response.reason = "OK"
        response.headers = CaseInsensitiveDict(self.headers)
        response._content = self.body
        response.encoding = get_encoding_from_headers(response.headers)
        response.url = request.url or ""
        response.request = request
        response.connection = self
        return response

    def close(self) -> None:
        return None


def build_variants(
    hook: Any, http_conn_id: str, adapter: BaseAdapter | None = None
) -> dict[str, Callable[[], requests.Response]]:
    """One callable per variant; with ``adapter``, every session sends through it instead of the network."""
    from airflow.models.variable import Variable
    from airflow.providers.http.hooks.http import HttpHook

    from airflow_provider_orangelogic.oauth.tokens import TokenPair

    base_url = hook.settings.base_url
    url = base_url + SEARCH_ENDPOINT
    key = hook.token_variable
    token = hook.get_access_token()
    # Read straight from the Variable, not through the hook's store, so the read counter only
    # sees the hook's own reads.
    pair = TokenPair.from_json(Variable.get(key), source=key)

    def mounted(session: requests.Session) -> requests.Session:
        if adapter is not None:
            session.mount("http://", adapter)
        return session

    bare_session = mounted(requests.Session())
    bare_session.headers["Authorization"] = f"Bearer {token}"
    hook_session = mounted(hook.get_conn())
    http_hook = HttpHook(method="GET", http_conn_id=http_conn_id, adapter=adapter)
    bearer = {"Authorization": f"Bearer {token}"}
    oauth = mounted(oauthlib_session(base_url, pair, token_updater=lambda new_token: None))

    def variable_read_per_call() -> requests.Response:
        record = json.loads(Variable.get(key))
        with mounted(requests.Session()) as session:
            session.headers["Authorization"] = f"Bearer {record['access_token']}"
            return session.get(url, params=SEARCH_PARAMS, timeout=HTTP_TIMEOUT)

    return {
        "bare_session": lambda: bare_session.get(url, params=SEARCH_PARAMS, timeout=HTTP_TIMEOUT),
        "hook_get_conn": lambda: hook_session.get(url, params=SEARCH_PARAMS, timeout=HTTP_TIMEOUT),
        "hook_request": lambda: hook.request("GET", SEARCH_ENDPOINT, params=SEARCH_PARAMS),
        "variable_read_per_call": variable_read_per_call,
        "http_hook": lambda: http_hook.run(SEARCH_ENDPOINT, data=SEARCH_PARAMS, headers=bearer),
        "requests_oauthlib": lambda: oauth.get(url, params=SEARCH_PARAMS, timeout=HTTP_TIMEOUT),
    }


def call_n(call: Callable[[], requests.Response], count: int) -> None:
    for _ in range(count):
        response = call()
        if response.status_code != 200:
            raise RuntimeError(f"the stand-in answered {response.status_code}: {response.text[:200]}")


def measure(
    variants: dict[str, Callable[[], requests.Response]], calls: int, trials: int, chunk: int, reads: ReadCounter
) -> dict[str, dict[str, Any]]:
    """Calls/s and client CPU per call of every variant, ``trials`` times."""
    results: dict[str, dict[str, Any]] = {
        name: {"calls_per_s": [], "cpu_us_per_call": [], "variable_reads": 0, "calls_total": 0} for name in VARIANTS
    }
    rounds = max(1, calls // chunk)
    # As timeit does: no garbage collection inside the timed chunks. A full collection of this
    # process's heap (all of Airflow) takes tens of milliseconds and would land on whichever
    # variant happened to run; it runs between trials instead, untimed.
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        for trial in range(trials):
            wall = dict.fromkeys(VARIANTS, 0.0)
            cpu = dict.fromkeys(VARIANTS, 0.0)
            # Short chunks of each variant in turn, rather than one long block each: a noisy spell
            # of the shared machine then slows every variant of the trial alike, and ratios hold.
            for round_number in range(rounds):
                shift = (trial + round_number) % len(VARIANTS)
                for name in VARIANTS[shift:] + VARIANTS[:shift]:
                    before = reads.value
                    cpu_start, wall_start = time.process_time(), time.perf_counter()
                    call_n(variants[name], chunk)
                    wall[name] += time.perf_counter() - wall_start
                    cpu[name] += time.process_time() - cpu_start
                    results[name]["variable_reads"] += reads.value - before
                    results[name]["calls_total"] += chunk
            for name in VARIANTS:
                results[name]["calls_per_s"].append(rounds * chunk / wall[name])
                results[name]["cpu_us_per_call"].append(cpu[name] / (rounds * chunk) * 1e6)
            gc.collect()
    finally:
        gc.enable()
        gc.unfreeze()
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conn-id", required=True)
    parser.add_argument("--http-conn-id", required=True)
    parser.add_argument("--code", required=True, help="an authorization code from /_standin/authorize")
    parser.add_argument("--calls", type=int, default=500, help="calls per variant per trial")
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--chunk", type=int, default=25, help="calls of one variant before switching to the next")
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)

    reads = ReadCounter()
    from airflow_provider_orangelogic.hooks.orangelogic import OrangeLogicHook

    # As the exchange DAG would: its own hook stores the first pair in the Variable.
    # (The code comes from the stand-in's control endpoint: no state this deployment issued to check.)
    OrangeLogicHook(args.conn_id).exchange_code(args.code, skip_state_check=True)
    # As a task would: a fresh hook, nothing cached; its first call has to read the Variable.
    hook = OrangeLogicHook(args.conn_id)
    reads.value = 0
    call_n(lambda: hook.request("GET", SEARCH_ENDPOINT, params=SEARCH_PARAMS), 1)
    first_reads = reads.value

    variants = build_variants(hook, args.http_conn_id)
    for call in variants.values():
        call_n(call, args.warmup)
    network = measure(variants, args.calls, args.trials, args.chunk, reads)

    # The same calls with the network taken out, through a second hook (its first call reads the
    # Variable, after the read counts above were taken).
    recorded = variants["bare_session"]()
    offline_hook = OrangeLogicHook(args.conn_id)
    offline = build_variants(offline_hook, args.http_conn_id, adapter=CannedAdapter(recorded))
    for call in offline.values():
        call_n(call, args.warmup)
    no_io = measure(offline, args.calls, args.trials, args.chunk, reads)

    write_json(
        args.out,
        {
            "calls": max(1, args.calls // args.chunk) * args.chunk,
            "trials": args.trials,
            "first_call_variable_reads": first_reads,
            "variants": network,
            "no_io": no_io,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
