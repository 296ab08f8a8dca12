"""The benchmark driver: ``python -m benchmarks.run [--quick]`` (``./benchmarks/run.sh`` installs first).

Starts two stand-ins on 127.0.0.1 (each a separate process that stops by itself), a throwaway
Airflow installation (SQLite metadata DB in a temporary AIRFLOW_HOME) and the measuring
subprocesses, then prints one table per point of docs/benchmarks.md and writes the figures to
.benchmarks-out/. Absolute figures vary between runs on a shared machine; the ratios compare
figures measured in the same run and are what to read.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import concurrent_search, refresh_under_contention, startup_cost
from benchmarks.common import (
    CLIENT_ID,
    CLIENT_SECRET,
    OUT_DIR,
    REDIRECT_URI,
    REPO,
    StandInProcess,
    machine_info,
    median,
    paired_ratios,
    run_worker,
)
from benchmarks.per_call_cost import HOOK_VARIANTS

CONN_ID = "orangelogic_bench"
PACED_CONN_ID = "orangelogic_bench_paced"  # to the stand-in answering searches after 50 ms
HTTP_CONN_ID = "bench_http"
CATALOGUE_SIZE = 100_000
VARIANT_LABELS = {
    "bare_session": "bare_session (floor): requests.Session, fixed header",
    "hook_get_conn": "hook_get_conn: OrangeLogicHook.get_conn() session",
    "hook_request": "hook_request: OrangeLogicHook.request()",
    "variable_read_per_call": "variable_read_per_call: Variable read + new session per call",
    "http_hook": "http_hook: HttpHook.run(), static bearer header",
    "requests_oauthlib": "requests_oauthlib: OAuth2Session, auto refresh",
}
FLOOR = "bare_session"
# What the hook's variants are compared with, in the ratio table and the targets.
COMPARED_WITH = ("bare_session", "variable_read_per_call", "http_hook", "requests_oauthlib")


@dataclass(frozen=True)
class Plan:
    calls: int  # per variant per trial (per-call cost)
    trials: int  # per-call cost
    contention_trials: int  # refresh under contention
    startup_reps: int
    memory_reps: int
    memory_list_sizes: tuple[int, ...]
    standin_runtime: float  # seconds after which the stand-ins stop by themselves, whatever happens
    concurrent_assets: int = CATALOGUE_SIZE  # concurrent search
    concurrent_reps: int = 2


FULL = Plan(
    calls=1000,
    trials=5,
    contention_trials=5,
    startup_reps=5,
    memory_reps=3,
    memory_list_sizes=(1_000, 10_000, 100_000),
    standin_runtime=2400,
)
QUICK = Plan(
    calls=100,
    trials=2,
    contention_trials=1,
    startup_reps=1,
    memory_reps=1,
    memory_list_sizes=(100_000,),
    standin_runtime=600,
    concurrent_assets=20_000,
    concurrent_reps=1,
)
MEMORY_SIZES = (1_000, 10_000, 100_000)


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def prepare_environment() -> None:
    """Settings every subprocess inherits."""
    # This workplace sets PYTHONDONTWRITEBYTECODE and the venv ships no .pyc files, so every fresh
    # interpreter would compile Airflow from source (~1.5 s more per process) - unlike any installed
    # deployment. Keep a bytecode cache under .benchmarks-out instead of writing into the venv.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(OUT_DIR / "pycache")
    # The stand-in speaks plain HTTP on 127.0.0.1; oauthlib refuses that unless told it is fine.
    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"


# -- the four measurements ----------------------------------------------------------------------


def ratio_key(numerator: str, denominator: str, *, no_io: bool = False) -> str:
    """The results' key of a ratio of calls/s, e.g. ``hook_request / bare_session``."""
    return f"{numerator} / {denominator}" + (", no network" if no_io else "")


def measure_per_call_cost(env: dict[str, str], standin: StandInProcess, plan: Plan) -> dict[str, Any]:
    raw = run_worker(
        "per_call_cost",
        [
            "--conn-id",
            CONN_ID,
            "--http-conn-id",
            HTTP_CONN_ID,
            "--code",
            standin.authorize(),
            "--calls",
            str(plan.calls),
            "--trials",
            str(plan.trials),
        ],
        env={**env, f"AIRFLOW_CONN_{HTTP_CONN_ID.upper()}": json.dumps({"conn_type": "http", "host": standin.url})},
        timeout=900,
    )
    variants, no_io = raw["variants"], raw["no_io"]
    floor, floor_no_io = variants[FLOOR]["calls_per_s"], no_io[FLOOR]["calls_per_s"]
    rows = []
    for name, label in VARIANT_LABELS.items():
        entry, offline = variants[name], no_io[name]
        rows.append(
            {
                "variant": name,
                "label": label,
                "calls_per_s": median(entry["calls_per_s"]),
                "ratio_to_bare_session": median(paired_ratios(entry["calls_per_s"], floor)),
                "cpu_us_per_call": median(entry["cpu_us_per_call"]),
                "no_io_us_per_call": median([1e6 / rate for rate in offline["calls_per_s"]]),
                "no_io_ratio_to_bare_session": median(paired_ratios(offline["calls_per_s"], floor_no_io)),
                "variable_reads_per_1000": entry["variable_reads"] * 1000 / entry["calls_total"]
                if name in HOOK_VARIANTS
                else None,
            }
        )
    ratios = {}
    for other in COMPARED_WITH:
        for hook_variant in HOOK_VARIANTS:
            ratios[ratio_key(hook_variant, other)] = median(
                paired_ratios(variants[hook_variant]["calls_per_s"], variants[other]["calls_per_s"])
            )
            ratios[ratio_key(hook_variant, other, no_io=True)] = median(
                paired_ratios(no_io[hook_variant]["calls_per_s"], no_io[other]["calls_per_s"])
            )
    token_layer_us = median(
        [1e6 / hook - 1e6 / bare for hook, bare in zip(no_io["hook_get_conn"]["calls_per_s"], floor_no_io, strict=True)]
    )
    return {
        "calls_per_trial": raw["calls"],
        "trials": raw["trials"],
        "first_call_variable_reads": raw["first_call_variable_reads"],
        "rows": rows,
        "ratios": ratios,
        "token_layer_us": token_layer_us,
        "raw": {"network": variants, "no_io": no_io},
    }


def measure_refresh_under_contention(standin: StandInProcess, plan: Plan) -> list[dict[str, Any]]:
    return refresh_under_contention.run(standin, plan.contention_trials)


def measure_startup_cost(env: dict[str, str], plan: Plan) -> dict[str, Any]:
    return startup_cost.run(env, plan.startup_reps)


def measure_search_memory(env: dict[str, str], plan: Plan) -> list[dict[str, Any]]:
    jobs = [(size, "stream") for size in MEMORY_SIZES] + [(size, "list") for size in plan.memory_list_sizes]
    samples: dict[tuple[int, str], list[dict[str, Any]]] = {job: [] for job in jobs}
    for _ in range(plan.memory_reps):
        for size, mode in jobs:
            args = ["--conn-id", CONN_ID, "--assets", str(size), "--mode", mode]
            samples[(size, mode)].append(run_worker("search_memory", args, env=env, timeout=600))
    rows = []
    for (size, mode), results in samples.items():
        rows.append(
            {
                "assets": size,
                "mode": mode,
                "baseline_mb": median([r["baseline_mb"] for r in results]),
                "peak_mb": median([r["peak_mb"] for r in results]),
                "growth_mb": median([r["growth_mb"] for r in results]),
                "seconds": median([r["seconds"] for r in results]),
                "peak_reset": all(r["peak_reset"] for r in results),
                "reps": len(results),
            }
        )
    return rows


# -- output -------------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table, padded so that it also reads well in a terminal."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) + " |"

    separator = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    return "\n".join([line(cells[0]), separator, *(line(row) for row in cells[1:])])


def _num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _machine_line(machine: dict[str, str]) -> str:
    return (
        f"Machine: {machine['nproc']} cores, {machine['cpu']}, Linux {machine['kernel']}; "
        f"Python {machine['python']}, Airflow {machine['apache-airflow']}, "
        f"apache-airflow-providers-http {machine['apache-airflow-providers-http']}, requests {machine['requests']}, "
        f"requests-oauthlib {machine['requests-oauthlib']} (oauthlib {machine['oauthlib']})."
    )


def _report_per_call_cost(p1: dict[str, Any]) -> list[str]:
    ratios = p1["ratios"]
    by_name = {row["variant"]: row for row in p1["rows"]}
    return [
        f"### 1. Per-call cost: GET /API/search/v4.0/search?format=json&countperpage=1 "
        f"({p1['calls_per_trial']} calls per variant per trial, {p1['trials']} trials, medians)",
        "",
        table(
            [
                "Variant",
                "calls/s",
                "ratio to bare_session",
                "client CPU µs/call",
                "no network: µs/call",
                "no network: speed ratio to bare_session",
                "Variable reads per 1000 calls",
            ],
            [
                [
                    row["label"],
                    _num(row["calls_per_s"]),
                    _num(row["ratio_to_bare_session"], 3),
                    _num(row["cpu_us_per_call"]),
                    _num(row["no_io_us_per_call"]),
                    _num(row["no_io_ratio_to_bare_session"], 3),
                    _num(row["variable_reads_per_1000"], 1),
                ]
                for row in p1["rows"]
            ],
        ),
        "",
        table(
            ["Ratio of calls/s (median of per-trial ratios)", "with network", "no network"],
            [
                [
                    ratio_key(hook_variant, other),
                    _num(ratios[ratio_key(hook_variant, other)], 3),
                    _num(ratios[ratio_key(hook_variant, other, no_io=True)], 3),
                ]
                for other in COMPARED_WITH
                for hook_variant in HOOK_VARIANTS
            ],
        ),
        "",
        f"Variable reads by the hook: {p1['first_call_variable_reads']} on its first call, then "
        f"{_num(by_name['hook_get_conn']['variable_reads_per_1000'], 1)} (hook_get_conn) and "
        f"{_num(by_name['hook_request']['variable_reads_per_1000'], 1)} (hook_request) per 1000 calls. "
        f"With the network taken out, a call through the hook's session takes {abs(p1['token_layer_us']):.1f} µs "
        f"{'less' if p1['token_layer_us'] < 0 else 'more'} than through bare_session "
        f"({by_name[FLOOR]['no_io_us_per_call']:.0f} µs).",
        "",
        "Targets (hook_get_conn, with network): " + "; ".join(_targets(ratios)) + ".",
    ]


def _targets(ratios: dict[str, float]) -> list[str]:
    floor = ratios[ratio_key("hook_get_conn", FLOOR)]
    verdicts = [f"within 5% of {FLOOR}: {'yes' if floor >= 0.95 else 'NO'} ({floor:.3f})"]
    for other in COMPARED_WITH[1:]:
        ratio = ratios[ratio_key("hook_get_conn", other)]
        verdicts.append(f"ahead of {other}: {'yes' if ratio > 1 else 'NO'} ({ratio:.3f})")
    return verdicts


def _report_refresh_under_contention(p2: list[dict[str, Any]]) -> list[str]:
    rows = []
    for s in p2:
        calls = _num(s["token_calls"])
        if s["token_calls_max"] != s["token_calls"]:
            calls += f" (max {s['token_calls_max']})"
        rows.append(
            [
                s["scenario"],
                s["processes"] * s["threads"],
                calls,
                _num(s["refresh_token_reuses"]),
                f"{s['revoked_trials']}/{len(s['trials'])}",
                _num(s["invalid_grant_failures"]),
                _num(s["holding_new_token"]),
                _num(s["working_after"]),
                _num(s["all_hold_ms"], 1) if s["all_hold_ms"] is not None else "never",
            ]
        )
    return [
        f"### 2. Refresh under contention: strict stand-in, every caller fires "
        f"{refresh_under_contention.FIRE_AFTER_EXPIRY * 1000:.0f} ms after the access token expired "
        f"({len(p2[0]['trials'])} trials per scenario, medians)",
        "",
        table(
            [
                "Scenario",
                "callers",
                "token-endpoint calls",
                "refresh-token reuses",
                "grant revoked (trials)",
                "invalid_grant failures",
                "callers holding a new token",
                "tokens working afterwards",
                "time until all hold it (ms)",
            ],
            rows,
        ),
        *(
            [
                "",
                f"Warning: {late} callers loaded the pair after it had already expired for them (a loaded "
                "machine); their figures are not warm starts.",
            ]
            if (late := sum(s["late_warmups"] for s in p2))
            else []
        ),
    ]


def _report_startup_cost(p3: dict[str, Any]) -> list[str]:
    first = p3["imports"][0]
    return [
        f"### 3. Start-up cost (fresh interpreter each, median of {p3['reps']})",
        "",
        table(
            ["In an Airflow process (after `import airflow`)", "orangelogic ms", "http ms", "ratio", "modules added"],
            [
                [
                    row["what"],
                    _num(row["ours_ms"], 2),
                    _num(row["http_ms"], 2),
                    _num(row["ratio"], 2),
                    f"{row['ours_new_modules']} vs {row['http_new_modules']}",
                ]
                for row in p3["imports"]
            ],
        ),
        "",
        f"In a bare interpreter, `import airflow_provider_orangelogic` + `get_provider_info()`: "
        f"{first['ours_bare_ms']:.2f} ms (no Airflow import); the same for the HTTP provider: "
        f"{first['http_bare_ms']:.0f} ms (its package lives in `airflow.providers`, so Airflow is imported first).",
        "",
        table(
            ["DAG file (BundleDagBag, as the DAG processor)", "parse ms", "ratio to HttpOperator DAG", "modules added"],
            [
                [f"`{row['file']}`", _num(row["ms"], 1), _num(row["ratio_to_http_dag"], 2), row["new_modules"]]
                for row in p3["parses"]
            ],
        ),
    ]


def _report_search_memory(p4: list[dict[str, Any]]) -> list[str]:
    consumers = {"stream": "streamed: for item in hook.search(...)", "list": "naive: list(hook.search(...))"}
    return [
        f"### 4. Memory: hook.search(page_size=1000) over the stand-in's {CATALOGUE_SIZE:,}-asset catalogue "
        f"(fresh subprocess each, median of {p4[0]['reps']})",
        "",
        table(
            ["Assets", "consumer", "RSS before (MB)", "peak RSS (MB)", "growth (MB)", "seconds"],
            [
                [
                    f"{row['assets']:,}",
                    consumers[row["mode"]],
                    _num(row["baseline_mb"], 1),
                    _num(row["peak_mb"], 1),
                    _num(row["growth_mb"], 1),
                    _num(row["seconds"], 2),
                ]
                for row in p4
            ],
        ),
    ]


def _report_concurrent_search(p5: dict[str, Any]) -> list[str]:
    rows = []
    for row in p5["rows"]:
        limit = f"{row['limit']} at once, Retry-After {p5['retry_after_s']:g} s" if row["limit"] else "none"
        rows.append(
            [
                row["concurrency"],
                limit,
                _num(row["assets_per_s"]),
                _num(row["ratio"], 2),
                _num(row["seconds"], 1),
                _num(row["peak_mb"], 1),
                _num(row["growth_mb"], 1),
                " / ".join(str(n) for n in row["server_429"]),
                " / ".join(str(n) for n in row["throttled_after_settling"]),
                " / ".join(str(n) for n in row["final_concurrency"]),
            ]
        )
    return [
        f"### 5. Concurrent search: hook.search(page_size={p5['page_size']}, concurrency=N) over "
        f"{p5['assets']:,} assets, the stand-in answering each search after {p5['latency_s'] * 1000:.0f} ms "
        f"(fresh subprocess each, median of {p5['rows'][0]['reps']})",
        "",
        table(
            [
                "concurrency",
                "stand-in limit",
                "assets/s",
                "ratio to sequential",
                "seconds",
                "peak RSS (MB)",
                "growth (MB)",
                "429s (each run)",
                "429s after the first 10% of pages",
                "pages in flight at the end",
            ],
            rows,
        ),
    ]


SECTIONS = ("per_call_cost", "refresh_under_contention", "startup_cost", "search_memory", "concurrent_search")


def report(results: dict[str, Any]) -> str:
    reporters = {
        "per_call_cost": _report_per_call_cost,
        "refresh_under_contention": _report_refresh_under_contention,
        "startup_cost": _report_startup_cost,
        "search_memory": _report_search_memory,
        "concurrent_search": _report_concurrent_search,
    }
    parts = [
        _machine_line(results["machine"]),
        f"Command: {results['command']} ({results['mode']} run, {results['elapsed_s']:.0f} s).",
    ]
    for name in SECTIONS:
        if name in results:  # an --only run, or results from before a section existed
            parts += ["", *reporters[name](results[name])]
    return "\n".join(parts)


# -- main ---------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a ~1-minute smoke run with fewer calls and trials")
    parser.add_argument("--report", metavar="JSON", help="print the tables of an earlier run's results file and exit")
    parser.add_argument(
        "--only", action="append", choices=SECTIONS, metavar="SECTION", help=f"run only these, of {', '.join(SECTIONS)}"
    )
    args = parser.parse_args(argv)
    sections = set(args.only or SECTIONS)
    if args.report:
        print(report(json.loads(Path(args.report).read_text())))
        return 0
    plan = QUICK if args.quick else FULL
    prepare_environment()
    OUT_DIR.mkdir(exist_ok=True)
    started = time.monotonic()

    from airflow_provider_orangelogic.testing.sandbox import AirflowSandbox

    results: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "command": "./benchmarks/run.sh"
        + (" --quick" if args.quick else "")
        + "".join(f" --only {name}" for name in args.only or ()),
        "plan": plan.__dict__,
        "machine": machine_info(),
    }
    # Both stand-ins stop by themselves after max_runtime even if this driver is killed.
    with (
        tempfile.TemporaryDirectory(prefix="ol-bench-airflow-") as home,
        StandInProcess(catalogue_size=CATALOGUE_SIZE, max_runtime=plan.standin_runtime) as api,
        StandInProcess(max_runtime=plan.standin_runtime) as strict,
        StandInProcess(
            catalogue_size=CATALOGUE_SIZE, max_runtime=plan.standin_runtime, search_latency=concurrent_search.LATENCY
        ) as paced,
    ):
        progress("Airflow sandbox: db migrate")
        sandbox = AirflowSandbox(home, REPO / "dags_examples")
        sandbox.migrate()
        sandbox.add_connection(
            CONN_ID,
            conn_type="orangelogic",
            host=api.url,
            login=CLIENT_ID,
            password=CLIENT_SECRET,
            extra={"redirect_uri": REDIRECT_URI},
        )
        sandbox.add_connection(
            PACED_CONN_ID,
            conn_type="orangelogic",
            host=paced.url,
            login=CLIENT_ID,
            password=CLIENT_SECRET,
            extra={"redirect_uri": REDIRECT_URI},
        )
        env = sandbox.env
        if sections & {"per_call_cost", "search_memory"}:  # search_memory uses the pair per_call_cost stores
            progress("1/5 per-call cost")
            results["per_call_cost"] = measure_per_call_cost(env, api, plan)
        if "search_memory" in sections:
            progress("4/5 search memory")
            results["search_memory"] = measure_search_memory(env, plan)
        if "refresh_under_contention" in sections:
            progress("2/5 refresh under contention")
            results["refresh_under_contention"] = measure_refresh_under_contention(strict, plan)
        if "startup_cost" in sections:
            progress("3/5 start-up cost")
            results["startup_cost"] = measure_startup_cost(env, plan)
        if "concurrent_search" in sections:
            progress("5/5 concurrent search")
            results["concurrent_search"] = concurrent_search.run(
                env, paced, PACED_CONN_ID, plan.concurrent_assets, plan.concurrent_reps
            )
    results["elapsed_s"] = time.monotonic() - started

    text = report(results)
    print(text)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (OUT_DIR / f"results-{stamp}.json").write_text(json.dumps(results, indent=2))
    (OUT_DIR / f"results-{stamp}.md").write_text(text + "\n")
    progress(f"figures written to {OUT_DIR.relative_to(REPO)}/results-{stamp}.json and .md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
