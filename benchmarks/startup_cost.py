"""Start-up cost (point 3 of docs/benchmarks.md), each figure next to the same for apache-airflow-providers-http.

Every measurement runs in a fresh interpreter (module caches empty), repeated and interleaved:

- imports: the provider-info entry point (what provider discovery loads), the hook module and the
  operator module, timed *inside* an Airflow process, because that is the only place a provider is
  imported: ``import airflow`` first, then the provider's package is dropped from ``sys.modules``
  (``import airflow`` runs provider discovery, which has already imported every provider's
  ``get_provider_info``) and the module is imported again: what is timed is what the provider's
  own code and dependencies add. ``import airflow_provider_orangelogic`` + ``get_provider_info()``
  in a bare interpreter is reported too; for the HTTP provider that figure includes importing
  Airflow itself, since its package lives inside ``airflow.providers``.
- DAG parsing: ``BundleDagBag(dag_folder=<file>, ...)``, the loader that Airflow 3.3's DAG
  processor uses for each file (airflow/dag_processing/processor.py, ``_parse_file``), timed
  after importing ``airflow.dag_processing.processor``, which that parsing process has loaded
  before it reads any file.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, median

MARK = "BENCH_RESULT="

IMPORT_CODE = """
import importlib, json, sys, time
if sys.argv[3] == "in-airflow":
    import airflow
    package = sys.argv[4]
    for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
        del sys.modules[name]
before = len(sys.modules)
start = time.perf_counter()
module = importlib.import_module(sys.argv[1])
if sys.argv[2]:
    getattr(module, sys.argv[2])()
seconds = time.perf_counter() - start
print("BENCH_RESULT=" + json.dumps({"seconds": seconds, "new_modules": len(sys.modules) - before}))
"""

PARSE_CODE = """
import json, sys, time
from pathlib import Path
import airflow.dag_processing.processor
from airflow.dag_processing.dagbag import BundleDagBag
path = Path(sys.argv[1])
before = len(sys.modules)
start = time.perf_counter()
bag = BundleDagBag(dag_folder=str(path), bundle_path=path.parent, bundle_name="bench", load_op_links=False)
seconds = time.perf_counter() - start
print("BENCH_RESULT=" + json.dumps({
    "seconds": seconds,
    "new_modules": len(sys.modules) - before,
    "dags": len(bag.dags),
    "errors": [str(e)[-300:] for e in bag.import_errors.values()],
}))
"""

WARM_CODE = """
import sys
from pathlib import Path
import airflow.dag_processing.processor
import airflow.providers.http.operators.http
import airflow_provider_orangelogic.operators.orangelogic
from airflow.dag_processing.dagbag import BundleDagBag
for name in sys.argv[1:]:
    BundleDagBag(dag_folder=name, bundle_path=Path(name).parent, bundle_name="bench", load_op_links=False)
"""

OURS_PACKAGE = "airflow_provider_orangelogic"
HTTP_PACKAGE = "airflow.providers.http"
# (label, ours: (module, function), http provider: (module, function))
IMPORTS: tuple[tuple[str, tuple[str, str], tuple[str, str]], ...] = (
    (
        "import + get_provider_info()",
        ("airflow_provider_orangelogic.get_provider_info", "get_provider_info"),
        ("airflow.providers.http.get_provider_info", "get_provider_info"),
    ),
    (
        "import hook module",
        ("airflow_provider_orangelogic.hooks.orangelogic", ""),
        ("airflow.providers.http.hooks.http", ""),
    ),
    (
        "import operator module",
        ("airflow_provider_orangelogic.operators.orangelogic", ""),
        ("airflow.providers.http.operators.http", ""),
    ),
)
HTTP_DAG = REPO / "benchmarks" / "dags" / "http_tiny_dag.py"


def _measure(code: str, args: list[str], env: Mapping[str, str]) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=REPO,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith(MARK)]
    if result.returncode != 0 or not lines:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-20:])
        raise RuntimeError(f"start-up measurement {args} exited {result.returncode}:\n{tail}")
    return json.loads(lines[-1].removeprefix(MARK))


def _warm(env: Mapping[str, str], dag_files: list[str]) -> None:
    subprocess.run(
        [sys.executable, "-c", WARM_CODE, *dag_files],
        cwd=REPO,
        env=dict(env),
        capture_output=True,
        timeout=300,
        check=True,
        stdin=subprocess.DEVNULL,
    )


def run(env: Mapping[str, str], reps: int) -> dict[str, Any]:
    jobs: list[tuple[str, str, list[str]]] = []  # (key, code, args)
    for index, (label, ours, http) in enumerate(IMPORTS):
        for who, (module, function), package in (("ours", ours, OURS_PACKAGE), ("http", http, HTTP_PACKAGE)):
            jobs.append((f"{label}|{who}|in-airflow", IMPORT_CODE, [module, function, "in-airflow", package]))
            if index == 0:
                jobs.append((f"{label}|{who}|bare", IMPORT_CODE, [module, function, "bare"]))
    dag_files = [*sorted((REPO / "dags_examples").glob("*.py")), HTTP_DAG]
    for path in dag_files:
        jobs.append((f"parse|{path.name}", PARSE_CODE, [str(path)]))

    # Not timed: fills the bytecode cache, which an installed deployment has (this workplace sets
    # PYTHONDONTWRITEBYTECODE; the driver points PYTHONPYCACHEPREFIX at .benchmarks-out instead).
    _warm(env, [str(path) for path in dag_files])
    samples: dict[str, list[dict[str, Any]]] = {key: [] for key, _, _ in jobs}
    for _ in range(reps):  # interleaved, so a noisy spell hits every figure alike
        for key, code, args in jobs:
            samples[key].append(_measure(code, args, env))

    def ms(key: str) -> float:
        return median([s["seconds"] for s in samples[key]]) * 1000

    imports = []
    for index, (label, _, _) in enumerate(IMPORTS):
        ours, http = ms(f"{label}|ours|in-airflow"), ms(f"{label}|http|in-airflow")
        imports.append(
            {
                "what": label,
                "ours_ms": ours,
                "http_ms": http,
                "ratio": ours / http,
                "ours_bare_ms": ms(f"{label}|ours|bare") if index == 0 else None,
                "http_bare_ms": ms(f"{label}|http|bare") if index == 0 else None,
                "ours_new_modules": samples[f"{label}|ours|in-airflow"][0]["new_modules"],
                "http_new_modules": samples[f"{label}|http|in-airflow"][0]["new_modules"],
            }
        )
    http_parse = ms(f"parse|{HTTP_DAG.name}")
    parses = []
    for path in dag_files:
        first = samples[f"parse|{path.name}"][0]
        parses.append(
            {
                "file": str(Path(path).relative_to(REPO)),
                "ms": ms(f"parse|{path.name}"),
                "ratio_to_http_dag": ms(f"parse|{path.name}") / http_parse,
                "dags": first["dags"],
                "errors": first["errors"],
                "new_modules": first["new_modules"],
            }
        )
    return {"reps": reps, "imports": imports, "parses": parses}
