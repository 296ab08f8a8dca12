"""The Orange Logic page's parts in-process: the single-use states, the HTML (no secret), the Test-button fix,
the plugin's registration. The browser suite (test_browser.py) runs them together on a real API server."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest

from airflow_provider_orangelogic.plugins import authorizations as auth
from airflow_provider_orangelogic.plugins.authorizations import (
    AuthorizationStates,
    MemoryStateBackend,
    StateRejected,
)
from airflow_provider_orangelogic.plugins.page import ConnectionView, render_message, render_page, time_left
from airflow_provider_orangelogic.plugins.test_button import OrangeLogicTestButtonFix, without_port_zero


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def start(states: AuthorizationStates, conn_id: str = "ol", browser_key: str = "browser-1") -> str:
    return states.start(
        conn_id=conn_id,
        user_id="7",
        user_name="alice",
        host="https://dam.example.com",
        client_id="client",
        redirect_uri="https://airflow.example.com/orangelogic/callback",
        browser_key=browser_key,
    )


# -- states -------------------------------------------------------------------------------------


def test_a_state_completes_its_authorization_once():
    backend = MemoryStateBackend()
    states = AuthorizationStates(backend, clock=Clock())
    state = start(states)
    record = states.finish(state, "browser-1")
    assert (record.conn_id, record.user_id, record.user_name) == ("ol", "7", "alice")
    with pytest.raises(StateRejected) as replay:
        states.finish(state, "browser-1")
    assert replay.value.reason == auth.REPLAYED and "already used" in str(replay.value)


def test_states_are_random_and_never_stored():
    backend = MemoryStateBackend()
    states = AuthorizationStates(backend, clock=Clock())
    issued = {start(states) for _ in range(50)}
    assert len(issued) == 50 and all(len(state) >= 43 for state in issued)
    stored = json.dumps(backend.values)
    assert not any(state in stored for state in issued)  # only their SHA-256 is kept


@pytest.mark.parametrize("state", [None, "", "forged-state-never-issued", "x" * 500])
def test_unknown_or_missing_states_are_refused(state):
    states = AuthorizationStates(MemoryStateBackend(), clock=Clock())
    start(states)
    with pytest.raises(StateRejected) as refused:
        states.finish(state, "browser-1")
    assert refused.value.reason in (auth.MISSING, auth.UNKNOWN)


def test_an_expired_state_is_refused_and_spent():
    clock = Clock()
    states = AuthorizationStates(MemoryStateBackend(), clock=clock)
    state = start(states)
    clock.now += auth.STATE_LIFETIME + 1
    with pytest.raises(StateRejected) as late:
        states.finish(state, "browser-1")
    assert late.value.reason == auth.EXPIRED and late.value.conn_id == "ol"
    with pytest.raises(StateRejected) as again:
        states.finish(state, "browser-1")
    assert again.value.reason == auth.REPLAYED


def test_a_state_from_another_browser_is_refused_and_spent():
    states = AuthorizationStates(MemoryStateBackend(), clock=Clock())
    state = start(states, browser_key="alices-browser")
    for key in ("mallorys-browser", None):
        with pytest.raises(StateRejected) as refused:
            states.finish(state, key)
        assert refused.value.reason in (auth.OTHER_BROWSER, auth.REPLAYED)
    with pytest.raises(StateRejected):
        states.finish(state, "alices-browser")  # spent by the first attempt


def test_abandoned_states_and_replay_markers_are_purged():
    clock = Clock()
    backend = MemoryStateBackend()
    states = AuthorizationStates(backend, clock=clock)
    spent = start(states)
    states.finish(spent, "browser-1")
    start(states)  # abandoned
    assert len(backend.values) == 2
    clock.now += auth.STATE_LIFETIME + 1
    start(states)  # purges first
    assert len(backend.values) == 1


# -- the HTML -----------------------------------------------------------------------------------


def test_the_page_shows_status_and_never_a_secret(stand_in, monkeypatch, tmp_path):
    from airflow_provider_orangelogic.hooks.orangelogic import OrangeLogicHook
    from airflow_provider_orangelogic.oauth.state import MemoryStateRecordStore
    from airflow_provider_orangelogic.oauth.stores import MemoryTokenStore
    from airflow_provider_orangelogic.plugins import access, views
    from airflow_provider_orangelogic.testing.browser import follow_authorization
    from tests.conftest import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI

    monkeypatch.setenv(
        "AIRFLOW_CONN_OL_PAGE",
        json.dumps(
            {
                "conn_type": "orangelogic",
                "host": stand_in.url,
                "login": CLIENT_ID,
                "password": CLIENT_SECRET,
                "extra": {"redirect_uri": REDIRECT_URI},
            }
        ),
    )
    store = MemoryTokenStore("page")
    hook = OrangeLogicHook("ol_page", token_store=store, state_store=MemoryStateRecordStore(), lock_dir=str(tmp_path))
    monkeypatch.setattr(views, "hook_for", lambda conn_id: hook)
    request = SimpleNamespace(headers={"host": "airflow.example.com"}, url=SimpleNamespace(scheme="https"))
    monkeypatch.setattr(access, "may", lambda user, method, conn_id: True)
    monkeypatch.setattr(views, "airflow_base_url", lambda: "")

    view = views.connection_view("ol_page", object(), request)
    assert (view.verdict, view.headline) == ("action", "Not authorized yet") and view.can_authorize
    assert view.redirect_uri == REDIRECT_URI  # the connection's own, since it is this page's callback path

    hook.exchange_code(follow_authorization(hook.get_authorization_url()).location)
    view = views.connection_view("ol_page", object(), request)
    html = render_page([view], callback_uri=views.callback_uri(request))
    pair = json.loads(store.text)
    for secret in (CLIENT_SECRET, pair["access_token"], pair["refresh_token"]):
        assert secret not in html
    assert view.headline == "Authorized" and "Re-authorize" in html and "(in 23 h 59 min)" in html
    assert "https://airflow.example.com/orangelogic/callback" in html


def test_a_redirect_uri_elsewhere_disables_authorize(monkeypatch):
    from airflow_provider_orangelogic.plugins import views

    monkeypatch.setattr(views, "airflow_base_url", lambda: "https://airflow.example.com")
    request = SimpleNamespace(headers={}, url=SimpleNamespace(scheme="http", netloc="internal:8080"))
    assert views.redirect_uri_for(SimpleNamespace(redirect_uri=None), request) == (
        "https://airflow.example.com/orangelogic/callback",
        "",
    )
    proxied = "https://public.example.com/airflow/orangelogic/callback"
    assert views.redirect_uri_for(SimpleNamespace(redirect_uri=proxied), request) == (proxied, "")
    uri, problem = views.redirect_uri_for(SimpleNamespace(redirect_uri="https://other.example.com/cb"), request)
    assert uri == "" and "not this page's callback" in problem
    html = render_page([ConnectionView("ol", auth_mode="authorization_code", can_authorize=True, may_edit=True)])
    assert '<button type="submit" name="authorize" value="ol" disabled>Authorize</button>' in html


def test_everything_shown_is_escaped():
    evil = "<script>alert(1)</script>"
    html = render_page([ConnectionView(evil, host=evil, client_id=evil, problem=evil, headline=evil)])
    assert evil not in html and "&lt;script&gt;" in html
    assert evil not in render_message(evil, evil, details=[evil])


def test_time_left_reads_like_a_person_would_say_it():
    assert [time_left(s) for s in (0, 30, 600, 86399, 30 * 86400 - 60)] == [
        "expired",
        "under a minute",
        "10 min",
        "23 h 59 min",
        "29 d 23 h",
    ]


# -- the connection list's Test button (Airflow 3.3) ---------------------------------------------


def test_port_zero_is_dropped_for_orangelogic_connections_only():
    body = json.dumps({"conn_type": "orangelogic", "connection_id": "ol", "port": 0, "password": "***"}).encode()
    assert json.loads(without_port_zero(body)) == {"conn_type": "orangelogic", "connection_id": "ol", "password": "***"}
    for other in (
        {"conn_type": "http", "port": 0},
        {"conn_type": "orangelogic", "port": 443},
        {"conn_type": "orangelogic"},
    ):
        assert without_port_zero(json.dumps(other).encode()) is None
    assert without_port_zero(b"not json") is None


def test_the_middleware_rewrites_only_the_test_request():
    seen = []

    async def app(scope, receive, send):
        message = await receive()
        seen.append((scope["path"], dict(scope["headers"]).get(b"content-length"), message["body"]))

    async def call(path, body):
        chunks = [body[:5], body[5:]]

        async def receive():
            chunk = chunks.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

        scope = {"type": "http", "method": "POST", "path": path, "headers": [(b"content-length", b"%d" % len(body))]}
        await OrangeLogicTestButtonFix(app)(scope, receive, None)

    def run(coroutine):  # in a thread of its own: Playwright's sync API may hold this thread's event loop
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, coroutine).result()

    body = json.dumps({"conn_type": "orangelogic", "port": 0}).encode()
    run(call("/api/v2/connections/test", body))
    run(call("/api/v2/connections", body))
    fixed = b'{"conn_type": "orangelogic"}'
    assert seen[0] == ("/api/v2/connections/test", str(len(fixed)).encode(), fixed)
    assert seen[1] == ("/api/v2/connections", str(len(body)).encode(), body[:5])  # untouched, streamed as sent


# -- registration -------------------------------------------------------------------------------


def test_the_plugin_is_declared_and_cheap_to_discover():
    from importlib.metadata import entry_points

    from airflow_provider_orangelogic.get_provider_info import get_provider_info

    (plugin,) = get_provider_info()["plugins"]
    assert plugin["plugin-class"] == "airflow_provider_orangelogic.plugins.plugin.OrangeLogicPlugin"
    (entry,) = [e for e in entry_points(group="airflow.plugins") if e.value.startswith("airflow_provider_orange")]
    assert entry.value == "airflow_provider_orangelogic.plugins.plugin:entry_point_plugin"
    code = (
        "import sys\nfrom airflow_provider_orangelogic.plugins.plugin import OrangeLogicPlugin, entry_point_plugin\n"
        "assert entry_point_plugin is OrangeLogicPlugin  # lazy provider discovery: Airflow's default\n"
        "assert 'fastapi' not in sys.modules\n"
        "apps = OrangeLogicPlugin.fastapi_apps\n"
        "assert apps[0]['url_prefix'] == '/orangelogic' and 'fastapi' in sys.modules\n"
        "assert OrangeLogicPlugin.external_views[0]['category'] == 'admin'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)
