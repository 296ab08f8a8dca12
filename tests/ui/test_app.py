"""The page's routes in-process (FastAPI's TestClient, the stand-in over a real socket): the callback's checks
that the browser suite does not reach, such as another signed-in user or a connection changed meanwhile."""

from __future__ import annotations

import json
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from airflow.api_fastapi.core_api.security import get_user
from fastapi import FastAPI
from fastapi.testclient import TestClient

from airflow_provider_orangelogic.hooks.orangelogic import OrangeLogicHook
from airflow_provider_orangelogic.oauth.stores import MemoryTokenStore
from airflow_provider_orangelogic.plugins import access as page_access
from airflow_provider_orangelogic.plugins import app as page_app
from airflow_provider_orangelogic.plugins import views as page_views
from airflow_provider_orangelogic.plugins.authorizations import AuthorizationStates, MemoryStateBackend
from airflow_provider_orangelogic.testing.browser import follow_authorization
from tests.conftest import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI

ALICE = SimpleNamespace(get_id=lambda: "alice", get_name=lambda: "alice")
BOB = SimpleNamespace(get_id=lambda: "bob", get_name=lambda: "bob")


@pytest.fixture
def world(stand_in, monkeypatch, tmp_path):
    def connection(**changes):
        fields = {
            "conn_type": "orangelogic",
            "host": stand_in.url,
            "login": CLIENT_ID,
            "password": CLIENT_SECRET,
            "extra": {"redirect_uri": REDIRECT_URI},
            **changes,
        }
        monkeypatch.setenv("AIRFLOW_CONN_OL", json.dumps(fields))

    connection()
    store = MemoryTokenStore("page")
    allowed = {"alice"}
    monkeypatch.setattr(page_views, "hook_for", lambda conn_id: OrangeLogicHook(conn_id, token_store=store))
    monkeypatch.setattr(page_access, "may", lambda user, method, conn_id: user.get_id() in allowed)
    for module in (page_app, page_access, page_views):
        monkeypatch.setattr(module, "airflow_base_url", lambda: "")
    monkeypatch.setattr(page_views, "orangelogic_conn_ids", lambda: ["ol"])
    sub = page_app.create_app(AuthorizationStates(MemoryStateBackend()))
    login = {"user": ALICE}
    sub.dependency_overrides[get_user] = lambda: login["user"]
    sub.dependency_overrides[page_access.optional_login] = lambda: login["user"]
    root = FastAPI()
    root.mount("/orangelogic", sub)
    client = TestClient(root, base_url="http://127.0.0.1:8080", follow_redirects=False)
    return SimpleNamespace(
        client=client, store=store, login=login, allowed=allowed, connection=connection, stand_in=stand_in
    )


def authorize(world) -> str:
    """Press Authorize and let the stand-in approve: the callback address (path and query)."""
    answer = world.client.post("/orangelogic/authorize/ol", headers={"Origin": "http://127.0.0.1:8080"})
    assert answer.status_code == 303, answer.text
    assert parse_qs(urlsplit(answer.headers["location"]).query)["redirect_uri"] == [REDIRECT_URI]
    landing = urlsplit(follow_authorization(answer.headers["location"]).location)
    return f"{landing.path}?{landing.query}"


def test_authorize_then_callback_stores_the_pair(world):
    answer = world.client.get(authorize(world))
    assert answer.status_code == 303 and answer.headers["location"] == "/orangelogic/?authorized=ol#conn-ol"
    assert json.loads(world.store.text)["obtained_by"] == "authorization_code"
    page = world.client.get(answer.headers["location"]).text
    assert "ol is authorized" in page and CLIENT_SECRET not in page


def test_another_signed_in_user_cannot_complete_it(world):
    callback = authorize(world)
    world.login["user"] = BOB
    answer = world.client.get(callback)
    assert answer.status_code == 403 and "started by alice" in answer.text
    assert "signed in to Airflow as bob" in answer.text
    assert world.store.text is None


def test_without_a_login_the_state_carries_the_authorization(world):
    callback = authorize(world)
    world.login["user"] = None  # e.g. the Airflow login expired while the person was at Orange Logic
    assert world.client.get(callback).status_code == 303
    assert world.store.text is not None


def test_a_permission_withdrawn_meanwhile_stops_it(world):
    callback = authorize(world)
    world.allowed.clear()
    answer = world.client.get(callback)
    assert answer.status_code == 403 and "may no longer edit" in answer.text and world.store.text is None


def test_a_connection_changed_meanwhile_exchanges_nothing(world):
    callback = authorize(world)
    world.connection(login="another-client")
    before = world.stand_in.counters()["token_requests"]
    answer = world.client.get(callback)
    assert answer.status_code == 409 and "changed" in answer.text
    assert world.stand_in.counters()["token_requests"] == before and world.store.text is None


def test_another_browser_cannot_complete_it(world):
    callback = authorize(world)
    world.client.cookies.clear()
    assert world.client.get(callback).status_code == 400  # and the state is spent
    assert world.store.text is None


def test_an_error_with_a_forged_state_shows_no_foreign_text(world):
    answer = world.client.get("/orangelogic/callback?error=access_denied&error_description=Call+555-0100&state=x")
    assert answer.status_code == 400 and "never issued" in answer.text and "555-0100" not in answer.text


def test_cross_site_posts_and_viewers_start_nothing(world):
    before = world.stand_in.counters()["auth_requests"]
    forged = world.client.post("/orangelogic/authorize/ol", headers={"Origin": "https://evil.example"})
    assert forged.status_code == 403 and "another site" in forged.text
    assert world.client.post("/orangelogic/authorize/ol", headers={"Origin": "null"}).status_code == 403
    world.login["user"] = BOB
    refused = world.client.post("/orangelogic/authorize/ol")
    assert refused.status_code == 403 and "may not edit the connection ol" in refused.text
    assert world.stand_in.counters()["auth_requests"] == before
