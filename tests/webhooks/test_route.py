"""The webhook route in-process (FastAPI's TestClient), with the connection lookup and the DB write replaced:
what it answers when Airflow cannot record (503, Retry-After, never a 200), and that it reads no body before the
secret. The real lookup and write are tested against a running Airflow in test_webhooks_e2e.py.
"""

from __future__ import annotations

import json
import logging
import time

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from airflow_provider_orangelogic.api.webhooks import DEFAULT_FIELD_PATHS, SECRET_HEADER, WebhookConfig
from airflow_provider_orangelogic.plugins import webhooks

SECRET = "r" * 40
BODY = json.dumps({"EventID": "e1", "EventType": "created", "SystemIdentifier": "OL0000001"}).encode()


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> TestClient:
    config = WebhookConfig(secrets=(SECRET,), field_paths=DEFAULT_FIELD_PATHS, max_body_bytes=2048)
    monkeypatch.setattr(webhooks, "_config_for", lambda conn_id: config)
    app = FastAPI()
    app.include_router(webhooks.router)
    return TestClient(app)


def post(client: TestClient, body: bytes = BODY, **headers: str):
    return client.post("/webhooks/ol", content=body, headers={SECRET_HEADER: SECRET, **headers})


def test_db_failure_is_a_503_with_retry_after(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(conn_id, event):
        raise RuntimeError("database is locked")

    monkeypatch.setattr(webhooks, "record_event", broken)
    answer = post(client)
    assert answer.status_code == 503 and answer.headers["Retry-After"] == str(webhooks.RETRY_AFTER_SECONDS)
    assert answer.json()["outcome"] == "retry"


def test_slow_db_is_a_503(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webhooks, "RECORD_TIMEOUT", 0.05)
    monkeypatch.setattr(webhooks, "record_event", lambda conn_id, event: time.sleep(1) or ("recorded", {}))
    assert post(client).status_code == 503


def test_outcomes_are_passed_on(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def record(conn_id, event):
        calls.append((conn_id, event.event_id, event.kind))
        return "recorded", {"asset": "orangelogic://ol/created", "asset_event_id": 5}

    monkeypatch.setattr(webhooks, "record_event", record)
    answer = post(client)
    assert answer.status_code == 200 and answer.json()["asset_event_id"] == 5
    assert calls == [("ol", "e1", "created")]


def test_refusals_never_reach_the_db(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webhooks, "record_event", lambda *a: pytest.fail("recorded a refused delivery"))
    assert post(client, **{SECRET_HEADER: "x" * 40}).status_code == 401
    assert post(client, body=b"x" * 2049).status_code == 413
    assert post(client, body=b"{}").status_code == 400


def test_access_log_lines_lose_the_query_secret() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1", "POST", f"/orangelogic/webhooks/ol?secret={SECRET}&x=1", "1.1", 200), None,
    )  # fmt: skip
    webhooks.RedactWebhookSecret().filter(record)
    assert SECRET not in record.getMessage() and "secret=***&x=1" in record.getMessage()


def test_only_the_webhook_and_the_callback_go_without_an_airflow_login() -> None:
    from fastapi.routing import APIRoute

    from airflow_provider_orangelogic.plugins.app import create_app

    def calls(dependant) -> set[str]:
        found = {getattr(dependant.call, "__name__", "")}
        for sub in dependant.dependencies:
            found |= calls(sub)
        return found

    routes = [route for route in create_app().routes if isinstance(route, APIRoute)]
    without_login = {route.path for route in routes if "get_user" not in calls(route.dependant)}
    assert without_login == {"/callback", "/webhooks/{conn_id}"}
    assert len(routes) > len(without_login)


def test_the_page_shows_the_webhook_url_never_the_secret() -> None:
    from airflow_provider_orangelogic.plugins.page import ConnectionView, render_page

    url = "https://airflow.example.com/orangelogic/webhooks/ol"
    shown = render_page([ConnectionView("ol", webhook_url=url), ConnectionView("off")])
    assert shown.count("Webhook URL") == 1 and f"<code>{url}</code>" in shown
