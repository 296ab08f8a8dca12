"""tests/prereqs.py: a registry outage skips a suite with its reason; a forgotten install fails it under CI."""

from __future__ import annotations

import pytest

from tests import prereqs


def test_a_recorded_outage_skips_with_its_reason(tmp_path, monkeypatch):
    monkeypatch.setattr(prereqs, "STATE", tmp_path)
    monkeypatch.setenv("CI", "true")
    (tmp_path / "ui.unavailable").write_text("apt-get update failed (Debian's registry unreachable?): E: ...\n")
    with pytest.raises(pytest.skip.Exception, match="Debian's registry unreachable"):
        prereqs.require("ui", False, "Debian's chromium", "scripts/ui/prereqs.sh installs it")


def test_a_missing_binary_without_a_recorded_outage_fails_under_ci_and_skips_elsewhere(tmp_path, monkeypatch):
    monkeypatch.setattr(prereqs, "STATE", tmp_path)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"scripts/ui/prereqs\.sh installs it"):
        prereqs.require("ui", False, "Debian's chromium", "scripts/ui/prereqs.sh installs it")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="not installed"):
        prereqs.require("ui", False, "Debian's chromium", "scripts/ui/prereqs.sh installs it")
    prereqs.require("ui", True, "Debian's chromium", "unused")  # present: nothing happens
