"""Hardening over HTTP (security review, issue 10, items 4 to 6), over real sockets on 127.0.0.1.

4. The access token goes to the connection's origin only: not after a redirect elsewhere, not with
   the one retry after a 401 from elsewhere.
5. Secrets a server echoes back (raw, URL-encoded, plus-encoded, JSON-escaped) never reach a message,
   and Airflow's masker knows every form.
6. No wait without end: an overall deadline and a size cap per call, paging that stops on a repeated
   page, past TotalCount or at a page limit, and no Retry-After slept out inside the refresh lock.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import islice
from urllib.parse import quote, urlencode

import pytest
import requests

from airflow_provider_orangelogic.api.search import SearchPageError, iter_search
from airflow_provider_orangelogic.api.session import new_session, send_with_retries
from airflow_provider_orangelogic.core.errors import OrangeLogicAPIError, TokenEndpointError, secret_forms
from airflow_provider_orangelogic.core.retry import RetryPolicy
from airflow_provider_orangelogic.core.settings import OrangeLogicSettings
from airflow_provider_orangelogic.oauth.grants import grant_for
from airflow_provider_orangelogic.oauth.manager import TokenManager
from airflow_provider_orangelogic.oauth.token_endpoint import TokenEndpointClient
from airflow_provider_orangelogic.testing import OrangeLogicStandIn, StandInConfig
from tests.conftest import CLIENT_ID, FAST_RETRY, REDIRECT_URI, MemoryStore, make_manager
from tests.tls import self_signed_server_context

SEARCH = "/API/search/v4.0/search"
# A secret with every character that URL-encoding, plus-encoding and JSON-escaping change.
ODD_SECRET = 'Zq8%s3cr+t/&="é\\x'
# Two seconds for a whole answer; the misbehaving servers below would take a minute.
DEADLINE_RETRY = RetryPolicy(max_attempts=4, backoff_base=0.01, backoff_max=0.05, max_retry_after=2, call_deadline=2)


# -- small servers that misbehave in ways the stand-in does not ---------------------------------------


class Recorder(ThreadingHTTPServer):
    """A server on 127.0.0.1 that records every request's Authorization header and answers with ``respond``."""

    daemon_threads = True

    def __init__(self, respond: Callable[[BaseHTTPRequestHandler], None], tls: ssl.SSLContext | None = None) -> None:
        self.seen: list[tuple[str, str | None]] = []
        self.respond = respond
        self.stopping = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                outer.seen.append((self.path, self.headers.get("Authorization")))
                outer.respond(self)

            do_GET = do_POST = _any

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.server_address[1]}"
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()


def answer(handler: BaseHTTPRequestHandler, status: int, body: bytes = b"", **headers: str) -> None:
    handler.send_response(status)
    for name, value in {"Content-Type": "application/json", **headers}.items():
        handler.send_header(name.replace("_", "-"), value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def unauthorized(handler: BaseHTTPRequestHandler) -> None:
    answer(handler, 401, b'{"error": "invalid_token"}', WWW_Authenticate='Bearer error="invalid_token"')


def dripping(seconds: int) -> Callable[[BaseHTTPRequestHandler], None]:
    """Headers at once, then one byte of a JSON body a second for ``seconds`` seconds."""

    def respond(handler: BaseHTTPRequestHandler) -> None:
        body = (b'{"access_token": "' + b"x" * seconds)[:seconds]
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        for byte in body:
            if handler.server.stopping.is_set():  # type: ignore[attr-defined]
                return
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            time.sleep(1)

    return respond


@pytest.fixture
def servers():
    started: list[Recorder] = []

    def start(respond, tls=None) -> Recorder:
        server = Recorder(respond, tls)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def tls_context(tmp_path_factory):
    """A server-side TLS context with a self-signed certificate for 127.0.0.1."""
    return self_signed_server_context(tmp_path_factory.mktemp("tls"))


class RotatingTokens:
    """A token source whose store always holds a newer token after a 401 (as if another worker refreshed)."""

    def __init__(self) -> None:
        self.handed_out = ["OUR-TOKEN-1", "OUR-TOKEN-2"]

    def access_token(self) -> str:
        return self.handed_out[0]

    def token_after_unauthorized(self, rejected: str) -> str | None:
        return self.handed_out[1]


# -- 4. the bearer token stays on its origin --------------------------------------------------------------


@pytest.mark.parametrize("elsewhere", ["another port", "another host name", "https to plain http"])
def test_a_401_after_a_redirect_elsewhere_never_gets_the_token(servers, tls_context, elsewhere):
    """Redirect to another origin that answers 401: not followed, the token never sent there"""
    other = servers(unauthorized)
    target = other.url.replace("127.0.0.1", "localhost") if elsewhere == "another host name" else other.url

    def redirect(handler):
        answer(handler, 302, Location=target + SEARCH)

    ours = servers(redirect, tls_context if elsewhere == "https to plain http" else None)
    session = new_session(RotatingTokens(), verify=False, base_url=ours.url)
    error = call_expecting_an_error(
        lambda: send_with_retries(session, "GET", ours.url + SEARCH, retry=FAST_RETRY, timeout=5, verify=False)
    )
    assert not [auth for _, auth in other.seen if auth], other.seen  # the review's point: no token there
    assert other.seen == []  # and in fact no request at all: the redirect is not followed
    assert ours.seen == [(SEARCH, "Bearer OUR-TOKEN-1")]
    assert isinstance(error, OrangeLogicAPIError) and "another origin" in str(error) and error.status_code == 302


def call_expecting_an_error(call: Callable[[], object]) -> BaseException | None:
    try:
        call()
    except Exception as err:  # checked by the caller after what matters more
        return err
    return None


def test_a_redirect_elsewhere_from_the_stand_in_with_a_real_token_manager(stand_in, servers, tmp_path):
    """Stand-in redirects a search to another origin answering 401: the stored token never goes there"""
    other = servers(unauthorized)
    manager = make_manager(stand_in.url, MemoryStore(), tmp_path)
    pair = manager.exchange_code(stand_in.authorize(REDIRECT_URI))
    stand_in.add_fault("search", "redirect", location=other.url + SEARCH)
    session = new_session(manager, base_url=stand_in.url)
    error = call_expecting_an_error(
        lambda: send_with_retries(session, "GET", stand_in.url + SEARCH, retry=FAST_RETRY, timeout=5)
    )
    assert not [auth for _, auth in other.seen if auth and pair.access_token in auth], other.seen
    assert other.seen == []
    assert isinstance(error, OrangeLogicAPIError) and "another origin" in str(error)


def test_a_same_origin_redirect_is_followed_with_the_token(stand_in, tmp_path):
    """Redirect within the connection's origin: followed, the token kept, the search answered"""
    manager = make_manager(stand_in.url, MemoryStore(), tmp_path)
    manager.exchange_code(stand_in.authorize(REDIRECT_URI))
    stand_in.add_fault("search", "redirect", location=f"{stand_in.url}{SEARCH}?format=json&countperpage=5")
    session = new_session(manager, base_url=stand_in.url)
    response = send_with_retries(session, "GET", stand_in.url + SEARCH, retry=FAST_RETRY, timeout=5)
    assert response.status_code == 200 and len(response.json()["APIResponse"]["Items"]) == 5
    assert [r.status_code for r in response.history] == [302]
    assert stand_in.counters()["unauthorized"] == 0


def test_the_token_is_only_attached_for_the_connections_origin(servers):
    """A request through the session to another origin carries no token, and its 401 is not retried"""
    ours, other = servers(unauthorized), servers(unauthorized)
    session = new_session(RotatingTokens(), base_url=ours.url)
    response = session.get(other.url + SEARCH, timeout=5)
    assert other.seen == [(SEARCH, None)]
    assert response.status_code == 401 and not response.history


# -- 5. echoed secrets ------------------------------------------------------------------------------------


@pytest.fixture
def odd_stand_in():
    """The stand-in with a client secret that every encoding changes."""
    config = StandInConfig(client_id=CLIENT_ID, client_secret=ODD_SECRET, redirect_uris=(REDIRECT_URI,))
    with OrangeLogicStandIn(config) as server:
        yield server


def odd_manager(url: str, tmp_path) -> TokenManager:
    settings = OrangeLogicSettings.from_connection_fields(
        conn_id="test", host=url, login=CLIENT_ID, password=ODD_SECRET, extra={"redirect_uri": REDIRECT_URI}
    )
    return TokenManager(
        settings,
        grant_for(settings, TokenEndpointClient(settings, retry=FAST_RETRY)),
        MemoryStore(),
        lock_dir=str(tmp_path / "locks"),
        wait_for_refresh=2,
    )


def leaked(text: str, secrets) -> list[str]:
    return [form for secret in secrets for form in secret_forms(secret) if form in text]


def echoes(sent: dict[str, str]) -> dict[str, dict]:
    """What a server echoing the token request could send back, per way of echoing it."""
    form = urlencode(sent)
    return {
        "form body in error": dict(kind="status", status=400, error=form, error_description="bad request"),
        "form body in error_description": dict(kind="status", status=400, error="invalid_request",
                                               error_description=f"could not parse {form}"),
        "JSON body in error_description": dict(kind="status", status=400, error="invalid_request",
                                               error_description=f"could not parse {json.dumps(sent)}"),
        "percent-encoded in error_description": dict(
            kind="status", status=400, error="invalid_request",
            error_description=" ".join(quote(value, safe="") for value in sent.values())),
        "form body as a text answer": dict(kind="body", status=400, text=form,
                                           content_type="application/x-www-form-urlencoded"),
        "JSON-escaped in message": dict(kind="body", status=500, text=json.dumps({"message": json.dumps(sent)})),
    }  # fmt: skip


ECHO_KINDS = list(echoes({"x": "y"}))


@pytest.mark.parametrize("how", ECHO_KINDS)
def test_an_echoing_token_endpoint_leaks_no_secret(odd_stand_in, tmp_path, how):
    """Token endpoint echoing the request (raw, URL-, plus-encoded, JSON-escaped): no secret in the error"""
    manager = odd_manager(odd_stand_in.url, tmp_path)
    pair = manager.exchange_code(odd_stand_in.authorize(REDIRECT_URI))
    sent = {"client_id": CLIENT_ID, "client_secret": ODD_SECRET, "grant_type": "refresh_token",
            "code": pair.refresh_token}  # fmt: skip
    fault = dict(echoes(sent)[how])
    odd_stand_in.add_fault("token", fault.pop("kind"), count=10, **fault)
    with pytest.raises(TokenEndpointError) as info:
        manager.refresh(force=True)
    err = info.value
    text = " ".join(map(str, (err, repr(err), err.description, err.oauth_error, *getattr(err, "__notes__", []))))
    assert not leaked(text, [ODD_SECRET, pair.refresh_token, pair.access_token]), text
    assert err.oauth_error in (None, "invalid_request")


def test_only_known_oauth_error_codes_are_shown(stand_in, tmp_path):
    """An OAuth error field is shown only when it is an RFC 6749/6750 code"""
    manager = make_manager(stand_in.url, MemoryStore(), tmp_path)
    manager.exchange_code(stand_in.authorize(REDIRECT_URI))
    stand_in.add_fault("token", "status", status=400, error="invalid_scope", error_description="no")
    with pytest.raises(TokenEndpointError, match="invalid_scope") as info:
        manager.refresh(force=True)
    assert info.value.oauth_error == "invalid_scope"
    stand_in.add_fault("token", "status", status=400, error="made_up_by_the_server_42", error_description="no")
    with pytest.raises(TokenEndpointError) as info:
        manager.refresh(force=True)
    assert "made_up_by_the_server_42" not in str(info.value) and info.value.oauth_error is None


def test_an_api_answer_echoing_the_token_leaks_it_nowhere(odd_stand_in, tmp_path, monkeypatch):
    """API error answer echoing the Authorization header and the client secret: redacted in the hook's error"""
    from airflow_provider_orangelogic.hooks.orangelogic import OrangeLogicHook

    fields = {"conn_type": "orangelogic", "host": odd_stand_in.url, "login": CLIENT_ID, "password": ODD_SECRET,
              "extra": {"redirect_uri": REDIRECT_URI}}  # fmt: skip
    monkeypatch.setenv("AIRFLOW_CONN_OL_ECHO", json.dumps(fields))
    hook = OrangeLogicHook("ol_echo", token_store=MemoryStore(), retry=FAST_RETRY, lock_dir=str(tmp_path))
    hook.token_manager.exchange_code(odd_stand_in.authorize(REDIRECT_URI))
    token = hook.get_access_token()
    echoed = json.dumps({"headers": {"Authorization": f"Bearer {token}"}, "secret": ODD_SECRET})
    odd_stand_in.add_fault("search", "body", status=400, text=f"{echoed} {quote(ODD_SECRET)}")
    with pytest.raises(OrangeLogicAPIError) as info:
        hook.request("GET", SEARCH, params={"format": "json"})
    assert "HTTP 400" in str(info.value)
    assert not leaked(str(info.value), [token, ODD_SECRET]), str(info.value)


def test_the_test_button_message_leaks_no_echoed_secret(odd_stand_in, tmp_path, monkeypatch):
    """Test button against a token endpoint echoing the request: the message holds no secret"""
    from airflow_provider_orangelogic.hooks.orangelogic import OrangeLogicHook

    fields = {"conn_type": "orangelogic", "host": odd_stand_in.url, "login": CLIENT_ID, "password": ODD_SECRET,
              "extra": {"redirect_uri": REDIRECT_URI}}  # fmt: skip
    monkeypatch.setenv("AIRFLOW_CONN_OL_ECHO", json.dumps(fields))
    sent = {"client_id": CLIENT_ID, "client_secret": ODD_SECRET, "grant_type": "authorization_code",
            "code": "airflow-connection-test"}  # fmt: skip
    odd_stand_in.add_fault("token", "status", count=10, status=400, error=urlencode(sent),
                           error_description=json.dumps(sent))  # fmt: skip
    hook = OrangeLogicHook("ol_echo", token_store=MemoryStore(), retry=FAST_RETRY, lock_dir=str(tmp_path))
    ok, message = hook.test_connection()
    assert not ok
    assert not leaked(message, [ODD_SECRET]), message


def test_the_masker_knows_every_form_of_a_secret():
    """Airflow's masker hides a registered secret's URL-, plus-encoded and JSON-escaped forms too"""
    from airflow.sdk._shared.secrets_masker import redact as airflow_redact

    from airflow_provider_orangelogic.hooks import _airflow_context

    secret = "masked " + ODD_SECRET
    _airflow_context.mask(secret)
    line = " | ".join(secret_forms(secret))
    assert set(airflow_redact(line).split(" | ")) == {"***"}


# -- 6. no wait without end ---------------------------------------------------------------------------------


def test_a_dripping_token_endpoint_fails_at_the_deadline_inside_the_lock(servers, tmp_path):
    """Token endpoint dripping a byte a second for 60 s: the refresh fails at the 2 s deadline, lock freed"""
    drip = servers(dripping(60))
    settings = OrangeLogicSettings.from_connection_fields(
        conn_id="test", host=drip.url, login=CLIENT_ID, password="s3cret-Zq8",
        extra={"auth_mode": "client_credentials"},
    )  # fmt: skip
    manager = TokenManager(
        settings,
        grant_for(settings, TokenEndpointClient(settings, retry=DEADLINE_RETRY)),
        MemoryStore(),
        lock_dir=str(tmp_path / "locks"),
        wait_for_refresh=2,
    )
    started = time.monotonic()
    with pytest.raises(TokenEndpointError, match="deadline"):
        manager.refresh(force=True)
    assert time.monotonic() - started < 30  # the server would have dripped for 60 s
    assert len(drip.seen) == 1  # not resent: the server may have acted on it
    started = time.monotonic()
    with pytest.raises(TokenEndpointError, match="deadline"):  # the lock was released: a second try runs
        manager.refresh(force=True)
    assert time.monotonic() - started < 30


def test_a_dripping_api_answer_fails_at_the_deadline(servers):
    """API answer dripping a byte a second for 60 s: the call fails at the 2 s deadline, not retried"""
    drip = servers(dripping(60))
    session = new_session(RotatingTokens(), base_url=drip.url)
    started = time.monotonic()
    with pytest.raises(OrangeLogicAPIError, match="deadline"):
        send_with_retries(session, "GET", drip.url + SEARCH, retry=DEADLINE_RETRY, timeout=5)
    assert time.monotonic() - started < 30
    assert len(drip.seen) == 1


def test_an_oversized_api_answer_is_refused(stand_in, tmp_path):
    """API answer larger than the size cap: refused with a clear error"""
    manager = make_manager(stand_in.url, MemoryStore(), tmp_path)
    manager.exchange_code(stand_in.authorize(REDIRECT_URI))
    stand_in.configure(catalogue_size=2000)
    session = new_session(manager, base_url=stand_in.url)
    params = {"format": "json", "countperpage": 1000}
    with pytest.raises(OrangeLogicAPIError, match="larger than 10000 bytes"):
        send_with_retries(
            session, "GET", stand_in.url + SEARCH, retry=FAST_RETRY, timeout=5, max_body_bytes=10_000, params=params
        )
    answer = send_with_retries(session, "GET", stand_in.url + SEARCH, retry=FAST_RETRY, timeout=5, params=params)
    assert len(answer.json()["APIResponse"]["Items"]) == 1000  # the default cap (10 MiB) takes a full page


def test_an_oversized_token_answer_is_refused(stand_in, tmp_path):
    """Token answer larger than 64 KiB: refused with a clear error, the stored pair unchanged"""
    store = MemoryStore()
    manager = make_manager(stand_in.url, store, tmp_path)
    manager.exchange_code(stand_in.authorize(REDIRECT_URI))
    before = store.text
    huge = json.dumps({"access_token": "x" * 100_000, "refresh_token": "y", "expires_in": 60})
    stand_in.add_fault("token", "body", status=200, text=huge, content_type="application/json")
    with pytest.raises(TokenEndpointError, match="larger than 65536 bytes"):
        manager.refresh(force=True)
    assert store.text == before


@pytest.fixture
def search_api(stand_in, tmp_path):
    manager = make_manager(stand_in.url, MemoryStore(), tmp_path)
    manager.exchange_code(stand_in.authorize(REDIRECT_URI))
    session = new_session(manager, base_url=stand_in.url)

    def request(method, endpoint, **kwargs):
        return send_with_retries(session, method, stand_in.url + endpoint, retry=FAST_RETRY, timeout=5, **kwargs)

    return request


@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_search_repeating_the_same_page_stops(stand_in, search_api, concurrency):
    """Search answering the same full page whatever the page number: stops at page 2 with a clear error"""
    stand_in.add_fault("search", "same_page", count=1000, items=10)
    with pytest.raises(SearchPageError, match="same assets as page 1") as info:
        for _ in islice(iter_search(search_api, "*", page_size=10, concurrency=concurrency), 3000):
            pass
    assert info.value.page == 2
    assert stand_in.counters()["search_requests"] <= 2 + concurrency


@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_search_of_full_pages_without_end_stops_at_the_page_limit(stand_in, search_api, concurrency):
    """Search whose every page is full, no TotalCount: stops at page_limit with a clear error"""
    stand_in.configure(catalogue_size=10**9, global_info=False)
    seen = []
    with pytest.raises(SearchPageError, match="page_limit") as info:
        for item in islice(iter_search(search_api, "*", page_size=5, concurrency=concurrency, page_limit=20), 5 * 1000):
            seen.append(item)
    assert info.value.page == 20 and len(seen) == 100
    assert stand_in.counters()["search_requests"] <= 20 + concurrency - 1
    # max_pages below the limit still ends such a search quietly, on purpose.
    assert len(list(iter_search(search_api, "*", page_size=5, concurrency=concurrency, max_pages=3))) == 15


def test_full_pages_past_total_count_stop(stand_in, search_api, monkeypatch):
    """Full pages past the end TotalCount gives (page by page): stops on the page after it with a clear error"""
    stand_in.configure(catalogue_size=10**9, global_info=True)
    real_json = requests.Response.json

    def understated(self, **kwargs):
        payload = real_json(self, **kwargs)
        payload["APIResponse"]["GlobalInfo"]["TotalCount"] = 20
        return payload

    monkeypatch.setattr(requests.Response, "json", understated)
    with pytest.raises(SearchPageError, match="TotalCount") as info:
        for _ in islice(iter_search(search_api, "*", page_size=5), 5 * 1000):
            pass
    assert info.value.page == 5  # pages 1-4 hold the 20; page 5 is asked (as always) and is still full
    assert stand_in.counters()["search_requests"] == 5
    # With pages in flight, TotalCount ends the search without asking past it.
    assert len(list(iter_search(search_api, "*", page_size=5, concurrency=4))) == 20


def test_a_long_retry_after_at_the_token_endpoint_is_not_slept_in_the_lock(stand_in, tmp_path):
    """Token endpoint 503 asking to retry after an hour: the refresh fails at once, not slept out in the lock"""
    store = MemoryStore()
    manager = make_manager(stand_in.url, store, tmp_path)
    manager.exchange_code(stand_in.authorize(REDIRECT_URI))
    before = store.text
    requests_before = stand_in.counters()["token_requests"]
    stand_in.add_fault("token", "status", count=10, status=503, retry_after=3600)
    started = time.monotonic()
    with pytest.raises(TokenEndpointError, match="max_retry_after"):
        manager.refresh(force=True)
    assert time.monotonic() - started < 30
    assert stand_in.counters()["token_requests"] - requests_before == 1
    assert store.text == before
    stand_in.clear_faults()
    assert manager.refresh(force=True).refreshed  # the lock is free again
