"""Reliability suite: every case is one row of docs/reliability.md.

Set ORANGELOGIC_RELIABILITY_TABLE=path to write the results table (category, case, outcome) there.
"""

from __future__ import annotations

import os
from collections import Counter

import pytest

_rows: list[tuple[str, str, str]] = []
CATEGORIES = {
    "test_token_faults": "Faults at the token endpoint",
    "test_api_faults": "Faults at the API",
    "test_crash_windows": "Crash windows (kill -9)",
    "test_store_trouble": "The store under trouble",
    "test_bad_input": "Bad input",
    "test_security": "Security properties",
    "test_hardening_local": "Hardening: lock and journal directory",
    "test_hardening_http": "Hardening: origins, echoed secrets, unbounded waits",
    "test_hardening_input": "Hardening: validation, masked write-back, verified writes",
    "test_hardening_state": "Hardening: OAuth state verification",
}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        module = item.module.__name__.rsplit(".", 1)[-1]
        doc = (item.function.__doc__ or item.name).strip().splitlines()[0]
        case = f"{doc} [{item.callspec.id}]" if hasattr(item, "callspec") else doc
        _rows.append((CATEGORIES.get(module, module), case, report.outcome))


def pytest_sessionfinish(session):
    path = os.environ.get("ORANGELOGIC_RELIABILITY_TABLE")
    if not path or not _rows:
        return
    totals = Counter(outcome for _, _, outcome in _rows)
    lines = ["| category | case | result |", "|---|---|---|"]
    lines += [f"| {category} | {case.replace('|', '/')} | {outcome} |" for category, case, outcome in _rows]
    lines.append("")
    lines.append(f"Cases tried: {len(_rows)}; passed: {totals['passed']}; failed: {totals['failed']}.")
    with open(path, "w") as out:
        out.write("\n".join(lines) + "\n")
