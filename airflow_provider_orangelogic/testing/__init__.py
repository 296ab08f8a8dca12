"""Test helpers: a local stand-in for the Orange Logic OAuth and Search endpoints."""

from airflow_provider_orangelogic.testing.stand_in import OrangeLogicStandIn, StandInConfig

__all__ = ["OrangeLogicStandIn", "StandInConfig"]
