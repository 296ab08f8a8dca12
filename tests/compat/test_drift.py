"""The drift command's search (scripts/drift.py), each function alone: no venvs, no PyPI.

``attempt`` (install + the matrix's checks in a clean venv) is replaced by a rule saying which
resolutions break; what is under test is that the bisection names the package and the release that
break, and gives up honestly when a mix does not resolve.
"""

from __future__ import annotations

import importlib.util
import sys
from types import SimpleNamespace

import pytest

from tests.conftest import REPO


def _load(name: str, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


drift = _load("drift_under_test", REPO / "scripts" / "drift.py")
compat = drift.compat


def row(ok: bool, check: str = "exchange", resolution: dict | None = None) -> dict:
    checks = {name: {"ok": True, "seconds": 0, "detail": ""} for name in ("install", *compat.CHECKS)}
    if not ok:
        checks[check] = {"ok": False, "seconds": 0, "detail": "AttributeError: no attribute 'is_encrypted'"}
    return {"ok": ok, "checks": checks, "resolution": resolution or {}, "log": "log.txt"}


class Rules(drift.Drift):
    """A Drift whose venvs are a rule: ``breaks_when(pins)`` says whether that resolution fails a check."""

    def __init__(self, tmp_path, locked, breaks_when, unresolvable=lambda pins: False):
        self.version, self.locked, self.runs = "3.0.6", locked, 0
        self.constraints_dir = tmp_path
        self.breaks_when, self.unresolvable, self.tried = breaks_when, unresolvable, []

    def attempt(self, what, pins, requirements=None):
        self.runs += 1
        self.tried.append(dict(pins))
        if self.unresolvable(pins):
            return row(False, "install")
        return row(not self.breaks_when(pins), resolution=pins)


LOCKED = {"cryptography": "50.0.2", "fastapi": "0.117.1", "idna": "3.10", "jinja2": "3.1.5", "rich": "14.0.0"}
FRESH = {"cryptography": "51.0.1", "fastapi": "0.117.1", "idna": "3.11", "jinja2": "3.1.6", "rich": "14.1.0"}
CHANGED = ["cryptography", "idna", "jinja2", "rich"]


def crypto_51_breaks(pins):
    return drift.release_key(pins["cryptography"]) >= (51,)


def test_bisection_names_the_one_changed_package_that_breaks(tmp_path):
    search = Rules(tmp_path, LOCKED, crypto_51_breaks)
    assert search.culprit_among(FRESH, CHANGED) == "cryptography"
    assert search.runs == 2  # log2 of four candidates
    # Every mix kept the unchanged package at its committed version.
    assert all(pins["fastapi"] == "0.117.1" for pins in search.tried)


@pytest.mark.parametrize("breaking", CHANGED)
def test_bisection_finds_the_culprit_wherever_it_sorts(tmp_path, breaking):
    search = Rules(tmp_path, LOCKED, lambda pins: pins[breaking] == FRESH[breaking])
    assert search.culprit_among(FRESH, CHANGED) == breaking


def test_a_mix_that_does_not_resolve_tries_the_other_half_then_gives_up(tmp_path):
    everything_unresolvable = Rules(tmp_path, LOCKED, crypto_51_breaks, unresolvable=lambda pins: True)
    assert everything_unresolvable.culprit_among(FRESH, CHANGED) is None
    # cryptography at today's version only resolves beside idna at today's (as if it required it).
    coupled = Rules(
        tmp_path,
        LOCKED,
        crypto_51_breaks,
        unresolvable=lambda pins: (pins["cryptography"] == "51.0.1") != (pins["idna"] == "3.11"),
    )
    assert coupled.culprit_among(FRESH, CHANGED) in {"cryptography", "idna", None}


def test_the_first_breaking_release_and_the_newest_working_one(tmp_path, monkeypatch):
    monkeypatch.setattr(drift, "releases", lambda name: ["49.0.0", "50.0.0", "50.0.1", "50.0.2", "51.0.0", "51.0.1"])
    search = Rules(tmp_path, LOCKED, crypto_51_breaks)
    tried = []

    def try_version(version):
        tried.append(version)
        return crypto_51_breaks({"cryptography": version})

    assert search.first_breaking("cryptography", "50.0.2", "51.0.1", try_version) == ("50.0.2", "51.0.0")
    assert tried == ["51.0.0"]  # 51.0.1 is known to break: one run decides

    # A longer gap, the break in the middle: found in log2 of the releases in between.
    monkeypatch.setattr(drift, "releases", lambda name: [f"1.{minor}.0" for minor in range(20)])
    tried.clear()

    def breaks_from_1_13(version):
        tried.append(version)
        return drift.release_key(version) >= (1, 13, 0)

    assert search.first_breaking("x", "1.2.0", "1.19.0", breaks_from_1_13) == ("1.12.0", "1.13.0")
    assert 1 < len(tried) <= 4


def test_release_ordering_is_numeric_and_skips_prereleases():
    versions = ["1.10.0", "1.9.0", "1.10.0rc1", "2.0.0.dev1", "1.9.1.post1"]
    assert sorted((v for v in versions if drift.is_final(v)), key=drift.release_key) == [
        "1.9.0",
        "1.9.1.post1",
        "1.10.0",
    ]


def test_pin_pattern_reads_upper_bounds_only():
    assert drift.PIN.match("cryptography<51")["bound"] == "51"
    assert drift.PIN.match("fastapi<0.118")["name"] == "fastapi"
    assert drift.PIN.match("wtforms") is None


def test_differences_name_what_changed_in_a_resolution():
    found = {**FRESH, "new-dep": "1.0"}
    del found["rich"]
    assert compat.differences(LOCKED, found) == [
        "cryptography 50.0.2 -> 51.0.1",
        "idna 3.10 -> 3.11",
        "jinja2 3.1.5 -> 3.1.6",
        "+new-dep==1.0",
        "-rich==14.0.0",
    ]
    assert compat.differences(LOCKED, dict(LOCKED)) == []


def test_committed_resolutions_exist_for_every_tested_version_and_honour_its_pins():
    python = SimpleNamespace(version="3.11")
    for version in compat.VERSIONS:
        path = compat.constraints_file(version, python.version)
        assert path.exists(), f"{path} missing: ./scripts/compat.sh --lock"
        pins = compat.read_pins(path)
        assert pins["apache-airflow"] == version
        assert "airflow-provider-orangelogic" not in pins  # the wheel under test is never pinned
        for requirement in compat.requirements_for(version)[1:]:
            match = drift.PIN.match(requirement)
            name = compat.canonical(match["name"] if match else requirement)
            assert name in pins, f"{requirement} asked for but {name} is not in {path.name}"
            if match:
                assert drift.release_key(pins[name]) < drift.release_key(match["bound"]), f"{path.name}: {name}"


def test_the_reported_cause_is_the_root_exception_not_our_wrapper():
    log = "\n".join(
        [
            "airflow_provider_orangelogic.testing.sandbox.AirflowCommandError: -m airflow dags test exited 1:",
            "Traceback (most recent call last):",
            '  File "airflow/models/crypto.py", line 88, in get_fernet',
            "AttributeError: 'MultiFernet' object has no attribute 'is_encrypted'",
            "CheckFailed: the exchange DAG failed",
        ]
    )
    assert compat.root_cause(log) == "AttributeError: 'MultiFernet' object has no attribute 'is_encrypted'"
    assert compat.root_cause("all good\nno traceback") is None
    assert drift.same_release("51", "51.0.0") and not drift.same_release("0.3", "0.3.9")
