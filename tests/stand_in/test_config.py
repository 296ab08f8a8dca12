"""StandInConfig: the checks on a configuration, at start and when changed at run time."""

from __future__ import annotations

import pytest

from airflow_provider_orangelogic.testing import OrangeLogicStandIn, StandInConfig
from airflow_provider_orangelogic.testing.stand_in.config import updated, validated


def test_configure_rejects_unknown_and_invalid_values(standin: OrangeLogicStandIn) -> None:
    with pytest.raises(ValueError):
        standin.configure(colour="red")
    with pytest.raises(ValueError):
        standin.configure(access_lifetime=-1)
    with pytest.raises(ValueError):
        standin.configure(redirect_uris="http://127.0.0.1/cb")


@pytest.mark.parametrize(
    "changes",
    [
        {"client_id": ""},
        {"client_secret": 7},
        {"redirect_uris": ("http://127.0.0.1/cb", None)},
        {"code_lifetime": True},
        {"refresh_lifetime": "60"},
        {"catalogue_size": -1},
        {"catalogue_size": 2.5},
        {"global_info": 1},
    ],
)
def test_invalid_configurations_are_refused_at_start(changes: dict) -> None:
    with pytest.raises(ValueError):
        OrangeLogicStandIn(StandInConfig(**changes))


def test_the_service_keeps_a_private_checked_copy() -> None:
    mine = StandInConfig(redirect_uris=["http://127.0.0.1:1/cb"])  # type: ignore[arg-type]
    checked = validated(mine)
    mine.client_id = "changed-later"
    assert checked.client_id == "standin-client" and checked.redirect_uris == ("http://127.0.0.1:1/cb",)
    assert updated(checked, {"redirect_uris": ["http://127.0.0.1:2/cb"]}).redirect_uris == ("http://127.0.0.1:2/cb",)
    assert checked.redirect_uris == ("http://127.0.0.1:1/cb",)
