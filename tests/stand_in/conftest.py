"""Fixtures of the stand-in tests: a fresh stand-in per test, over real loopback sockets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airflow_provider_orangelogic.testing import OrangeLogicStandIn
from tests.stand_in.helpers import first_pair


@pytest.fixture
def standin() -> Iterator[OrangeLogicStandIn]:
    with OrangeLogicStandIn() as server:
        yield server


@pytest.fixture
def access_token(standin: OrangeLogicStandIn) -> str:
    return first_pair(standin)["access_token"]
