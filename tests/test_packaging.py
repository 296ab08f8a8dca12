"""Import-time promises: cheap provider discovery, and an OAuth layer free of Airflow."""

from __future__ import annotations

import subprocess
import sys

import pytest

from airflow_provider_orangelogic.core.fields import EXTRA_FIELD_NAMES
from airflow_provider_orangelogic.get_provider_info import get_provider_info


def loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_get_provider_info_imports_nothing_heavy():
    modules = loaded_after("from airflow_provider_orangelogic.get_provider_info import get_provider_info")
    assert not {m for m in modules if m.split(".")[0] in ("airflow", "requests", "pendulum")}


@pytest.mark.parametrize(
    "module",
    [
        "core",
        "oauth",
        "oauth.token_endpoint",
        "oauth.manager",
        "oauth.stores",
        "oauth.redirect",
        "oauth.state",
        "plugins",
        "api.session",
        "api.search",
        "testing.stand_in",
    ],
)
def test_oauth_layer_and_stand_in_do_not_import_airflow(module):
    modules = loaded_after(f"import airflow_provider_orangelogic.{module}")
    assert not {m for m in modules if m == "airflow" or m.startswith("airflow.")}


def test_provider_info_declares_the_connection_type():
    info = get_provider_info()
    (conn,) = info["connection-types"]
    assert conn["connection-type"] == "orangelogic"
    assert conn["hook-class-name"] == "airflow_provider_orangelogic.hooks.orangelogic.OrangeLogicHook"
    assert set(conn["ui-field-behaviour"]["hidden-fields"]) == {"schema", "port"}
    assert list(conn["conn-fields"]) == list(EXTRA_FIELD_NAMES)


def test_entry_point_is_registered():
    from importlib.metadata import entry_points

    (entry,) = [
        e for e in entry_points(group="apache_airflow_provider") if e.value.startswith("airflow_provider_orange")
    ]
    assert entry.load() is get_provider_info


def test_provider_info_matches_airflow_schema():
    import json
    from importlib.resources import files

    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(files("airflow").joinpath("provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)


def test_connection_type_matches_airflows_provider_yaml_schema():
    """provider_info.schema.json does not look inside conn-fields; provider.yaml.schema.json does."""
    import json
    from importlib.resources import files

    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(files("airflow").joinpath("provider.yaml.schema.json").read_text())
    (conn,) = get_provider_info()["connection-types"]
    jsonschema.validate(conn, schema["properties"]["connection-types"]["items"])
    behaviour = json.loads(files("airflow").joinpath("customized_form_field_behaviours.schema.json").read_text())
    jsonschema.validate({k.replace("-", "_"): v for k, v in conn["ui-field-behaviour"].items()}, behaviour)


def test_hook_and_operators_hide_secrets_in_repr():
    from airflow_provider_orangelogic.hooks.orangelogic import OrangeLogicHook
    from airflow_provider_orangelogic.operators.orangelogic import OrangeLogicExchangeCodeOperator

    assert repr(OrangeLogicHook("x")) == "OrangeLogicHook(orangelogic_conn_id='x')"
    op = OrangeLogicExchangeCodeOperator(task_id="t", code="the-code-value")
    assert "the-code-value" not in repr(op)


def test_provider_info_declares_the_orangelogic_config_section():
    from airflow_provider_orangelogic.core import config

    section = get_provider_info()["config"]["orangelogic"]
    assert list(section["options"]) == [
        "refresh_conn_ids",
        "refresh_interval_seconds",
        "lock_dir",
        "state_lifetime_seconds",
    ]
    for option in config.OPTIONS:
        declared = section["options"][option.name]
        assert declared["description"] and declared["example"] and declared["type"] in ("string", "float")
        assert declared["default"] == option.default


def test_readme_table_lists_each_config_option_with_its_default():
    from pathlib import Path

    from airflow_provider_orangelogic.core import config

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for option in config.OPTIONS:
        shown = f"`{option.default}`" if option.default else "empty"
        assert f"| `{option.name}` | {shown} |" in readme, option.name


def test_dag_factories_and_the_example_files_build_the_same_dags():
    """The exchange, refresh and search example files are two-line callers of the package's factories."""
    from pathlib import Path

    examples = Path(__file__).resolve().parents[1] / "dags_examples"
    factories = {
        "orangelogic_token_exchange.py": "token_exchange_dag",
        "orangelogic_token_refresh.py": "token_refresh_dag",
        "orangelogic_search_example.py": "search_example_dag",
    }
    for name, factory in factories.items():
        lines = [line for line in (examples / name).read_text().splitlines() if line.strip()]
        assert lines == [f"from airflow_provider_orangelogic.dags import {factory}", f"dag = {factory}()"], name
