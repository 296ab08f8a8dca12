"""The provider on running Airflow 3 deployments: every test runs once per deployment shape.

The ``deployment_run`` fixture (conftest.py) starts the deployment, runs the load scenario
(scenario.py) and keeps the deployment up while these tests look at what happened.
"""

from __future__ import annotations

import pytest

from tests.e2e.scenario import CONN_ID, DeploymentRun, files_containing

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

OUR_EXTRA_FIELDS = ("redirect_uri", "token_variable", "token_endpoint", "refresh_threshold", "refresh_on_demand")


def test_connection_form_lists_orangelogic_with_our_labels(deployment_run: DeploymentRun) -> None:
    forms = {form["connection_type"]: form for form in deployment_run.deployment.api.connection_form_metadata()}
    form = forms["orangelogic"]
    assert form["hook_name"] == "Orange Logic"
    assert form["hook_class_name"] == "airflow_provider_orangelogic.hooks.orangelogic.OrangeLogicHook"
    fields = form["standard_fields"]
    assert fields["host"]["title"] == "Orange Logic URL"
    assert fields["login"]["title"] == "Client ID"
    assert fields["password"]["title"] == "Client secret"
    assert fields["port"]["hidden"] and fields["url_schema"]["hidden"]
    extra = form["extra_fields"]
    for name in OUR_EXTRA_FIELDS:
        assert name in extra, name
    assert extra["redirect_uri"]["schema"]["title"] == "Redirect URI"
    assert extra["token_request_encoding"]["schema"]["enum"] == ["form", "json"]  # empty (null): the default


def test_connection_form_defaults_are_not_masked(deployment_run: DeploymentRun) -> None:
    forms = {form["connection_type"]: form for form in deployment_run.deployment.api.connection_form_metadata()}
    masked = sorted(name for name, spec in forms["orangelogic"]["extra_fields"].items() if spec.get("value") == "***")
    # The UI pre-fills the form with these values: a connection saved untouched would hold "***".
    assert not masked, f"form fields pre-filled with '***': {masked}"


def test_connection_created_through_the_rest_api_is_usable_by_the_hook(deployment_run: DeploymentRun) -> None:
    api, stand_in = deployment_run.deployment.api, deployment_run.stand_in
    connection = api.call("GET", f"/api/v2/connections/{CONN_ID}")
    assert connection["conn_type"] == "orangelogic" and connection["host"] == stand_in.url
    assert connection["password"] != stand_in.client_secret  # the API shows it masked
    # The exchange DAG, the refresh DAG, the consumers and the hook outside any task all used it.
    status = deployment_run.result.status_at_end
    assert status.get("host") == stand_in.url, status
    assert status["token_variable"] == f"orangelogic_token_{CONN_ID}"


def test_every_consumer_task_succeeds(deployment_run: DeploymentRun) -> None:
    result, plan = deployment_run.result, deployment_run.plan
    assert result.consumer_states == ["success"] * plan.consumers
    assert result.load_run_state == "success"
    assert len(result.consumer_results) == plan.consumers
    assert all(consumer["calls"] > 0 and consumer["items"] > 0 for consumer in result.consumer_results)


def test_all_consumers_ran_at_once_across_several_expiries(deployment_run: DeploymentRun) -> None:
    figures = deployment_run.result.figures
    assert figures.peak_concurrent_consumers == deployment_run.plan.consumers
    # Every single consumer used at least four access tokens: it lived through three expiries.
    assert figures.min_access_tokens_per_consumer >= 4


def test_strict_stand_in_saw_no_reuse_and_revoked_nothing(deployment_run: DeploymentRun) -> None:
    for counters in (deployment_run.stand_in.counters(), deployment_run.result.counters_after_final_use):
        assert counters["refresh_token_reuses"] == 0
        assert counters["code_reuses"] == 0
        assert counters["grants_revoked"] == 0


def test_one_refresh_per_access_token_expiry(deployment_run: DeploymentRun) -> None:
    figures = deployment_run.result.figures
    assert figures.expiries_crossed >= 3
    assert figures.window_seconds > figures.refresh_lifetime  # the first refresh token would have expired
    # Every refresh came from the refresh DAG (consumers never refresh), and every token call
    # succeeded: the exchange plus the refreshes, nothing else.
    assert figures.refresh_calls == figures.refreshes_reported_by_refresh_dag
    assert figures.token_endpoint_calls == figures.refresh_calls + 1
    # At most one refresh per access-token lifetime, plus what refreshing ahead of expiry adds: a pair
    # is due only after 65% of its life, so even a refresh DAG that is always on time cannot go above
    # 1 / 0.65 = 1.54. No lower bound: how soon the refresh DAG gets its turn after a pair falls due is a
    # speed figure (docs/deployments.md has it), not a property; that the consumers never ran short is
    # checked above, by every consumer using at least four access tokens and every one succeeding.
    assert figures.refresh_calls_per_expiry <= 1.6


def test_variable_holds_a_valid_pair_at_the_end(deployment_run: DeploymentRun) -> None:
    result = deployment_run.result
    # Read through the hook outside any task when the load run ended, the refresh DAG still running.
    assert result.status_at_end.get("access_token_valid") and result.status_at_end["refresh_token_valid"]
    # After pausing the refresh DAG: the strict token endpoint still accepts the stored refresh token
    # (a spent one would have been a reuse), and the Search API the access token it yields.
    final = result.final_use
    assert "error" not in final, final.get("error")
    assert final["stored"]["refresh_token_valid"] and final["forced_refresh"]["refreshed"]
    assert final["search_items"] > 0
    via_rest = result.variable_via_rest
    assert via_rest["key"] == f"orangelogic_token_{CONN_ID}"
    leaked = [s for s in deployment_run.stand_in.all_secrets() if s in str(via_rest)]
    assert not leaked, "the REST API showed a token of the stored pair"


def test_no_secret_in_any_log_file(deployment_run: DeploymentRun) -> None:
    deployment = deployment_run.deployment
    folders = deployment.log_folders
    # Each host that ran consumers kept their task logs in its own log folder: those are scanned too.
    for host in deployment.workers or [deployment.control]:
        assert list(host.logs.glob("dag_id=orangelogic_e2e_load/**/*.log")), host.name
    hits = files_containing(folders, deployment_run.stand_in.all_secrets())
    assert not hits, f"a code, token or the client secret was found in: {hits[:10]}"


def test_consumers_ran_on_every_worker_host(deployment_run: DeploymentRun) -> None:
    deployment, results = deployment_run.deployment, deployment_run.result.consumer_results
    per_host = deployment_run.result.figures.consumers_per_host
    expected_hosts = {host.name for host in deployment.workers} or {deployment.control.name}
    assert set(per_host) == expected_hosts and all(count > 0 for count in per_host.values())
    # Each host used its own refresh-lock directory: no lock was shared between "machines".
    lock_dirs = {result["host"]: result["lock_dir"] for result in results}
    assert len(set(lock_dirs.values())) == len(expected_hosts)
