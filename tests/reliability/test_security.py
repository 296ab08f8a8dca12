"""Security properties a user relies on, each checked on real behaviour."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from airflow_provider_orangelogic.core.errors import ReauthorizationRequired, TokenEndpointError
from airflow_provider_orangelogic.oauth.token_endpoint import TokenEndpointClient
from tests.conftest import CLIENT_SECRET, FAST_RETRY, REDIRECT_URI, MemoryStore, make_manager, make_settings
from tests.tls import self_signed_server_context


@pytest.fixture
def tls_server(tmp_path):
    """An HTTPS server on 127.0.0.1 with a self-signed certificate, answering every POST with invalid_grant."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = b'{"error": "invalid_grant"}'
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    context = self_signed_server_context(tmp_path)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_tls_verification_is_on_by_default(tls_server):
    """TLS verification on by default: a self-signed server is refused before anything is sent"""
    client = TokenEndpointClient(make_settings(tls_server), retry=FAST_RETRY)
    with pytest.raises(TokenEndpointError, match="SSLError"):
        client.authorization_code_grant("some-code")


def test_tls_verification_can_be_turned_off(tls_server):
    """verify_ssl false reaches the same server (and gets its OAuth answer)"""
    client = TokenEndpointClient(make_settings(tls_server, verify_ssl=False), retry=FAST_RETRY)
    with pytest.raises(ReauthorizationRequired):
        client.authorization_code_grant("some-code")


def test_state_is_random_and_round_trips(stand_in, tmp_path):
    """The authorization state is random (secrets) and comes back unchanged on the redirect"""
    from airflow_provider_orangelogic.testing.browser import follow_authorization

    manager = make_manager(stand_in.url, MemoryStore(), tmp_path)
    states = [parse_qs(urlsplit(manager.grant.authorization_url()).query)["state"][0] for _ in range(200)]
    assert len(set(states)) == 200 and min(map(len, states)) >= 32
    url = manager.grant.authorization_url()
    redirect = follow_authorization(url, timeout=30)  # raises if another state than the one sent came back
    assert redirect.location.startswith(REDIRECT_URI)
    assert [redirect.state] == parse_qs(urlsplit(url).query)["state"]


def test_reprs_hide_every_secret(stand_in, tmp_path):
    """repr of settings, pair, client, manager, hook and operators never shows a secret"""
    from airflow_provider_orangelogic.hooks.orangelogic import OrangeLogicHook
    from airflow_provider_orangelogic.operators.orangelogic import (
        OrangeLogicExchangeCodeOperator,
        OrangeLogicRefreshTokenOperator,
    )

    manager = make_manager(stand_in.url, MemoryStore(), tmp_path)
    code = stand_in.authorize(REDIRECT_URI)
    pair = manager.exchange_code(code)
    objects = [
        manager.settings,
        pair,
        manager.grant,
        manager.grant.endpoint,
        manager,
        OrangeLogicHook("x"),
        OrangeLogicExchangeCodeOperator(task_id="t", code=code),
        OrangeLogicRefreshTokenOperator(task_id="r"),
    ]
    text = " ".join(repr(o) for o in objects) + str(pair.summary())
    assert not [s for s in (CLIENT_SECRET, code, pair.access_token, pair.refresh_token) if s in text]


def test_variable_key_is_one_airflow_masks():
    """The default Variable key contains 'token', so Airflow masks its value"""
    from airflow.sdk._shared.secrets_masker import should_hide_value_for_key

    from airflow_provider_orangelogic.hooks.variable_store import default_variable_key

    assert should_hide_value_for_key(default_variable_key("orangelogic_default"))


def test_server_echo_of_a_secret_is_redacted(stand_in, tmp_path):
    """An error description that echoes the refresh token is redacted in the message"""
    manager = make_manager(stand_in.url, MemoryStore(), tmp_path)
    pair = manager.exchange_code(stand_in.authorize(REDIRECT_URI))
    stand_in.add_fault(
        "token",
        "status",
        status=400,
        error="invalid_request",
        error_description=f"bad code {pair.refresh_token} for secret {CLIENT_SECRET}",
    )
    with pytest.raises(TokenEndpointError) as info:
        manager.refresh(force=True)
    assert pair.refresh_token not in str(info.value) and CLIENT_SECRET not in str(info.value)
    assert "***" in str(info.value)
