"""What a suite does when a system package it needs (Debian's chromium, PostgreSQL, Redis) is missing.

``scripts/apt-install.sh`` writes ``.prereqs/<suite>.unavailable`` with the reason when Debian's registry
could not deliver the packages: the suite then skips with that reason, so a registry outage never turns
the test command red. Without that file a missing binary means the prerequisites were never installed:
a failure under CI (where the test command installs them), a skip on a developer's machine.
"""

from __future__ import annotations

import os

import pytest

from tests.conftest import REPO

STATE = REPO / ".prereqs"


def require(suite: str, present: bool, what: str, hint: str) -> None:
    if present:
        return
    marker = STATE / f"{suite}.unavailable"
    if marker.exists():
        pytest.skip(f"{what} not installed: {marker.read_text(encoding='utf-8').strip()}")
    message = f"{what} not installed; {hint}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)
