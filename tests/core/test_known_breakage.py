"""The warning a hook logs when the installed cryptography is known to break this Airflow minor."""

from __future__ import annotations

import pytest

from airflow_provider_orangelogic import compat


def versions(airflow: tuple[int, int], cryptography: str):
    def distribution_version(name: str) -> str:
        return {"cryptography": cryptography, "apache-airflow-core": ".".join(map(str, airflow))}[name]

    return distribution_version


@pytest.mark.parametrize(
    ("airflow", "cryptography", "broken"),
    [((3, 0), "51.0.0", True), ((3, 1), "51.0.1", True), ((3, 1), "50.0.2", False), ((3, 2), "51.0.1", False)],
)
def test_named_with_the_pin_only_where_it_breaks(monkeypatch, airflow, cryptography, broken):
    monkeypatch.setattr(compat, "AIRFLOW_VERSION", airflow)
    monkeypatch.setattr(compat, "_distribution_version", versions(airflow, cryptography))
    problem = compat.known_breakage()
    if not broken:
        assert problem is None
        return
    assert f"cryptography {cryptography}" in problem and "'cryptography<51'" in problem
    assert f"Airflow {airflow[0]}.{airflow[1]}" in problem


def test_logged_once_per_process(monkeypatch, caplog):
    monkeypatch.setattr(compat, "AIRFLOW_VERSION", (3, 0))
    monkeypatch.setattr(compat, "_distribution_version", versions((3, 0), "51.0.1"))
    monkeypatch.setattr(compat, "_breakage_warned", False)
    import logging

    log = logging.getLogger("test_known_breakage")
    with caplog.at_level(logging.WARNING, logger=log.name):
        compat.warn_of_known_breakage(log)
        compat.warn_of_known_breakage(log)
    assert [r.getMessage().count("cryptography<51") for r in caplog.records] == [1]
