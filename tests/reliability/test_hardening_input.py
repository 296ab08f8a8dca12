"""Hardening (security review, items 7, 9 and 10): input checked in full at the boundary, a token Variable saved
back from the Airflow UI recognised, and every store write read back before it counts as done.

Each case failed on the code before the hardening (see docs/reliability.md for how that was checked)."""

from __future__ import annotations

import dataclasses
import json

import pendulum
import pytest
import requests

from airflow_provider_orangelogic.core import endpoints
from airflow_provider_orangelogic.core.errors import ConfigurationError, TokenEndpointError, TokenStoreError
from airflow_provider_orangelogic.core.settings import OrangeLogicSettings
from airflow_provider_orangelogic.hooks.variable_store import VariableTokenStore
from airflow_provider_orangelogic.oauth.stores import FileTokenStore
from airflow_provider_orangelogic.oauth.tokens import TokenPair, pair_from_response
from tests.conftest import REDIRECT_URI, MemoryStore, make_manager

SECRET = "s3cr3t-value-never-shown"
KEY = "orangelogic_token_ol"

# -- item 7: connection fields, checked in full before anything is sent ------------------------------------

FIELDS = [
    ({"timeout": 1e300}, "timeout must be greater than zero and at most 3600"),
    ({"default_access_token_lifetime": 10**12}, "default_access_token_lifetime must be greater than zero and at most"),
    ({"default_refresh_token_lifetime": 10**30}, "default_refresh_token_lifetime must be greater than zero and at"),
    ({"token_variable": KEY + "\n"}, "not a valid Airflow Variable key"),
    ({"token_variable": "orangelogic_pair_ol"}, "must contain the word 'token'"),
    ({"redirect_uri": "https://airflow.example.com/orangelogic/callback#top"}, "must not contain a fragment"),
    ({"redirect_uri": "https://airflow.example.com/c\u2028b"}, "without spaces, control or invisible characters"),
    ({"host": "https://dam.exa\u200bmple.com"}, "invisible ones such as a zero-width space"),
    ({"host": "https://dam.exam\u2028ple.com"}, "spaces or control characters"),
    ({"host": "https://dam.example.com\u00ad"}, "spaces or control characters"),
    ({"host": "https://dam.example.com;jsessionid=1"}, "is not valid: use a DNS name"),
    ({"host": "https://dam.example.com%0a"}, "is not valid: use a DNS name"),
    ({"host": "https://dam.example.com:0"}, "invalid port (0)"),
    ({"host": "https://" + "a" * (1 << 20) + ".example.com"}, "characters long; an Orange Logic URL has at most"),
    ({"host": "https://" + "a" * 300 + ".example.com"}, "is not valid: use a DNS name"),
    ({"auth_mode": "bearer_token", "password": "t\u00f6ken-\u2603"}, "characters a bearer token cannot have"),
    ({"token_endpoint": "/webapi/token\u200b"}, "token_endpoint must be a path starting with '/'"),
    ({"timeout": [[[[30]]]]}, "timeout must be a single value, not a JSON list"),
    ({"auth_mode": {"mode": {"x": 1}}}, "auth_mode must be a single value, not a JSON dict"),
    ({"verify_ssl": "x" * 1_000_000}, "verify_ssl must be true or false, not 'xxxx"),
]


@pytest.mark.parametrize(("change", "message"), FIELDS, ids=[repr(c)[:60] for c, _ in FIELDS])
def test_connection_field_checked_in_full(change, message):
    """A connection field with an odd value is refused when the connection is read, before any call"""
    values = {"host": "https://dam.example.com", "login": "client", "password": SECRET}
    extra = {k: v for k, v in change.items() if k not in values}
    values.update({k: v for k, v in change.items() if k in values})
    with pytest.raises(ConfigurationError) as info:
        OrangeLogicSettings.from_connection_fields(conn_id="ol", extra=extra, **values)
    assert message in str(info.value) and "'ol'" in str(info.value)
    assert SECRET not in str(info.value) and len(str(info.value)) < 2000


ODD_BUT_VALID_HOSTS = {
    "dam.example.com": "https://dam.example.com",
    "https://DAM.Example.com:8443/": "https://dam.example.com:8443",
    "https://[2001:db8::1]": "https://[2001:db8::1]",
    "https://b\u00fccher.example": "https://b\u00fccher.example",
    "https://dam.example.com.": "https://dam.example.com.",
    "https://dam_internal.corp": "https://dam_internal.corp",
}


@pytest.mark.parametrize("host", list(ODD_BUT_VALID_HOSTS))
def test_valid_hosts_still_accepted(host):
    """A host that is unusual but valid (IDN, IPv6, port, trailing dot) is still accepted"""
    settings = OrangeLogicSettings.from_connection_fields(conn_id="ol", host=host, login="c", password="s", extra={})
    assert settings.base_url == ODD_BUT_VALID_HOSTS[host]


# -- item 7: the token answer; never an exception after the server answered that loses the new pair ---------


def _renew_answering(manager, **changes):
    """Let the real stand-in answer (spending the old refresh token), then alter the answer as a server bug would."""
    renew = manager.grant.renew

    def altered(pair):
        return {**renew(pair), **changes}

    manager.grant.renew = altered


def _api_accepts(url: str, token: str) -> bool:
    response = requests.get(url + endpoints.SEARCH, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    return response.status_code != 401


@pytest.mark.parametrize(
    "expires_in", [10**400, 10**12, 1e308, 0.001, -5, "soon"], ids=["10^400", "10^12", "1e308", "1 ms", "-5", "soon"]
)
def test_odd_expires_in_during_a_refresh_keeps_the_new_pair(stand_in, tmp_path, expires_in):
    """The server answers a refresh with an absurd expires_in: the new pair is stored, usable, the grant lives on"""
    store = MemoryStore()
    manager = make_manager(stand_in.url, store, tmp_path)
    manager.exchange_code(stand_in.authorize(REDIRECT_URI))
    _renew_answering(manager, expires_in=expires_in)
    pair = manager.refresh(force=True).pair
    stored = TokenPair.from_json(store.text, source="test")
    assert stored.refresh_token == pair.refresh_token and stored.access_token == pair.access_token
    assert stored.access_token_valid(pendulum.now("UTC").timestamp())
    # The configured lifetime (24 h) stood in for the absurd one.
    assert abs(stored.access_lifetime - manager.settings.default_access_token_lifetime) < 5
    assert _api_accepts(stand_in.url, pair.access_token)
    manager.grant.renew = type(manager.grant).renew.__get__(manager.grant)
    assert manager.refresh(force=True).refreshed
    assert stand_in.counters()["refresh_token_reuses"] == 0 and stand_in.counters()["grants_revoked"] == 0


def test_absurd_configured_lifetimes_never_lose_the_new_pair(stand_in, tmp_path):
    """Settings built in code with lifetimes of 10^30 s: the new pair is stored with bounded dates, not lost"""
    store = MemoryStore()
    manager = make_manager(stand_in.url, store, tmp_path)
    manager.settings = dataclasses.replace(
        manager.settings, default_access_token_lifetime=10**30, default_refresh_token_lifetime=10**30
    )
    manager.exchange_code(stand_in.authorize(REDIRECT_URI))
    _renew_answering(manager, expires_in=None)  # no expires_in: the (absurd) configured lifetime applies
    pair = manager.refresh(force=True).pair
    stored = TokenPair.from_json(store.text, source="test")
    assert stored.refresh_token == pair.refresh_token
    assert stored.refresh_token_expires_at.year < 2100 and stored.access_token_expires_at.year < 2100
    assert _api_accepts(stand_in.url, pair.access_token)
    assert stand_in.counters()["refresh_token_reuses"] == 0


@pytest.mark.parametrize(
    "access_token",
    ["abc\r\nX-Injected: 1", "t\u00f6ken", "two words", "x" * (65 * 1024)],
    ids=["CR/LF", "non-Latin-1", "space", "65 KiB"],
)
def test_access_token_a_header_cannot_carry(stand_in, tmp_path, access_token):
    """The server answers a refresh with an access token no header can carry: clear error, refresh token kept"""
    store = MemoryStore()
    manager = make_manager(stand_in.url, store, tmp_path)
    manager.exchange_code(stand_in.authorize(REDIRECT_URI))
    _renew_answering(manager, access_token=access_token)
    with pytest.raises(TokenEndpointError, match="without a usable access_token") as info:
        manager.refresh(force=True)
    assert access_token[:8] not in str(info.value)
    stored = TokenPair.from_json(store.text, source="test")
    assert stored.access_token == "" and stored.refresh_token in stand_in.issued_secrets()
    manager.grant.renew = type(manager.grant).renew.__get__(manager.grant)
    fresh = manager.refresh(force=True).pair
    assert _api_accepts(stand_in.url, fresh.access_token)
    assert stand_in.counters()["refresh_token_reuses"] == 0


@pytest.mark.parametrize("refresh_token", ["R\nX", "r\u00e9fresh", "R\x00"], ids=["LF", "non-ASCII", "NUL"])
def test_refresh_token_with_odd_characters_is_kept(refresh_token, caplog):
    """A refresh token with CR/LF, NUL or non-ASCII characters: kept (the old one is spent), a warning naming none"""
    pair = pair_from_response(
        {"access_token": "A", "refresh_token": refresh_token},
        grant="authorization_code",
        host="https://dam.example.com",
        now=pendulum.now("UTC"),
        access_lifetime=60,
        refresh_lifetime=600,
    )
    assert pair.refresh_token == refresh_token
    assert TokenPair.from_json(pair.to_json(), source="test").refresh_token == refresh_token  # reads back
    assert "characters RFC 6749 does not allow" in caplog.text and refresh_token not in caplog.text


def test_a_token_answer_nested_too_deeply_gets_a_clear_error():
    """A token answer nested 100000 deep: a clear error, not a raw RecursionError"""
    from airflow_provider_orangelogic.oauth.token_endpoint import TokenEndpointClient

    answer = requests.Response()
    answer.status_code = 200
    answer._content = b'{"a": ' * 100_000 + b"1" + b"}" * 100_000
    with pytest.raises(TokenEndpointError, match="nested too deeply"):
        TokenEndpointClient._json_body(None, answer, "https://dam.example.com/token", ())


def test_a_connection_extra_nested_too_deeply_gets_a_clear_error():
    """A connection Extra nested 100000 deep: a clear configuration error, not a raw RecursionError"""
    from types import SimpleNamespace

    from airflow_provider_orangelogic.hooks.connection_settings import _extra_of

    with pytest.raises(ConfigurationError, match="nested too deeply"):
        _extra_of(SimpleNamespace(conn_id="ol", extra="[" * 100_000 + "]" * 100_000))


# -- item 7: a tampered token Variable -------------------------------------------------------------------

GOOD = json.loads(
    pair_from_response(
        {"access_token": "A", "refresh_token": "R"},
        grant="authorization_code",
        host="https://dam.example.com",
        now=pendulum.datetime(2026, 1, 1, tz="UTC"),
        access_lifetime=60,
        refresh_lifetime=600,
    ).to_json()
)
TAMPERED = {
    "date in year 1 with an offset": (
        json.dumps({**GOOD, "obtained_at": "0001-01-01T00:00:00+05:00"}),
        "obtained_at is not an ISO 8601",
    ),
    "date in 9999 with an offset": (
        json.dumps({**GOOD, "refresh_token_expires_at": "9999-12-31T23:59:59-05:00"}),
        "refresh_token_expires_at is not an ISO 8601",
    ),
    "date in 9999": (json.dumps({**GOOD, "access_token_expires_at": "9999-12-31T23:59:59Z"}), "outside 2000-2099"),
    "date in 1970": (json.dumps({**GOOD, "obtained_at": "1970-01-01T00:00:00Z"}), "outside 2000-2099"),
    "JSON nested 100000 deep": ('{"a": ' * 100_000 + "1" + "}" * 100_000, "nested too deeply"),
    "2 MB record": (json.dumps({**GOOD, "padding": "x" * 2_000_000}), "far more than a token record"),
    "access token with CR/LF": (json.dumps({**GOOD, "access_token": "A\r\nB"}), "access_token holds characters"),
    "refresh token over 64 KiB": (json.dumps({**GOOD, "refresh_token": "R" * 70_000}), "refresh_token holds"),
}


@pytest.mark.parametrize("case", list(TAMPERED))
def test_tampered_token_variable(case):
    """A token Variable edited by hand: a clear error naming the Variable and the fix"""
    text, message = TAMPERED[case]
    with pytest.raises(TokenStoreError) as info:
        TokenPair.from_json(text, source=f"Airflow Variable {KEY!r}")
    assert message in str(info.value)
    assert f"Airflow Variable {KEY!r}" in str(info.value)
    assert "authorize again" in str(info.value)


# -- item 9: a token Variable saved back from the Airflow UI ------------------------------------------------


def _as_the_ui_saves_it(text: str, key: str) -> str:
    """What Admin > Variables > Edit > Save writes back: the API server's redacted value (VariableResponse)."""
    try:  # Airflow 3.1+
        from airflow._shared.secrets_masker import redact
    except ImportError:  # Airflow 3.0
        from airflow.sdk.execution_time.secrets_masker import redact  # type: ignore[no-redef]
    return json.dumps(redact(json.loads(text), key))


def test_masked_write_back_is_recognised(stand_in, tmp_path):
    """The token Variable saved from the Airflow UI (tokens now ***): the error says so and how to fix it"""
    store = MemoryStore()
    manager = make_manager(stand_in.url, store, tmp_path)
    manager.exchange_code(stand_in.authorize(REDIRECT_URI))
    store.text = _as_the_ui_saves_it(store.text, KEY)
    assert json.loads(store.text)["refresh_token"] == "***"
    calls = stand_in.counters()["token_requests"]
    with pytest.raises(TokenStoreError) as info:
        manager.refresh(force=True)
    message = str(info.value)
    assert "saved from the Airflow UI" in message and "'***'" in message
    assert "Never edit or save this Variable in the UI" in message and "authorize again" in message
    assert "ISO 8601" not in message
    assert stand_in.counters()["token_requests"] == calls


# -- item 10: every write read back --------------------------------------------------------------------------


def _pair(access: str = "A", refresh: str = "R") -> TokenPair:
    return pair_from_response(
        {"access_token": access, "refresh_token": refresh},
        grant="authorization_code",
        host="https://dam.example.com",
        now=pendulum.now("UTC"),
        access_lifetime=60,
        refresh_lifetime=600,
    )


def test_variable_write_that_did_not_take_effect(monkeypatch):
    """A Variable write that returns without error but did not take effect: TokenStoreError, never success"""
    old = _pair("A0", "R0").to_json()
    monkeypatch.setattr(VariableTokenStore, "_write", lambda self, value, description: None)  # silently dropped
    monkeypatch.setattr(VariableTokenStore, "_read_back", lambda self: old)
    monkeypatch.setattr(VariableTokenStore, "check_writable", lambda self: None)
    with pytest.raises(TokenStoreError, match="the write did not take effect") as info:
        VariableTokenStore(KEY, "ol").save(_pair("A1", "R1"))
    assert "A1" not in str(info.value) and "R1" not in str(info.value)


class SilentlyDroppingStore(MemoryStore):
    """A store whose writes report success but do not take effect (a replica, a proxy, a misbehaving backend)."""

    dropping = False

    def save(self, pair) -> None:
        if not self.dropping:
            super().save(pair)


def test_manager_reads_back_every_write_and_keeps_the_rescue_copy(stand_in, tmp_path):
    """Any store: a write that did not take effect fails loudly, the new pair stays in the rescue file"""
    store = SilentlyDroppingStore()
    manager = make_manager(stand_in.url, store, tmp_path)
    manager.exchange_code(stand_in.authorize(REDIRECT_URI))
    before = store.text
    store.dropping = True
    with pytest.raises(TokenStoreError, match="did not return the new token pair") as info:
        manager.refresh(force=True)
    assert "rescue file" in str(info.value) and manager.journal.path.exists()
    assert store.text == before
    store.dropping = False
    grants = stand_in.counters()["refresh_token_grants"]
    assert manager.refresh(force=True).reason == "stored a pair saved before a crash"
    assert stand_in.counters()["refresh_token_grants"] == grants
    assert stand_in.counters()["refresh_token_reuses"] == 0


def test_file_store_write_replaced_meanwhile(tmp_path, monkeypatch):
    """FileTokenStore: the file read back is not what was written: TokenStoreError"""
    store = FileTokenStore(tmp_path / "pair.json")
    real_replace = __import__("os").replace

    def replace_then_overwrite(src, dst):
        real_replace(src, dst)
        with open(dst, "w") as handle:  # another process writing at the same moment
            handle.write(_pair("A2", "R2").to_json())

    monkeypatch.setattr("airflow_provider_orangelogic.oauth.stores.os.replace", replace_then_overwrite)
    with pytest.raises(TokenStoreError, match="did not take effect"):
        store.save(_pair("A1", "R1"))


READ_BACK_IN_AIRFLOW = """
import json, os, sqlite3
import pendulum
from airflow_provider_orangelogic.hooks.variable_store import VariableTokenStore
from airflow_provider_orangelogic.oauth.tokens import pair_from_response

def pair(access, refresh):
    return pair_from_response({"access_token": access, "refresh_token": refresh}, grant="authorization_code",
        host="https://dam.example.com", now=pendulum.now("UTC"), access_lifetime=60, refresh_lifetime=600)

db = sqlite3.connect(os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].removeprefix("sqlite:///"))
store = VariableTokenStore("orangelogic_token_readback", "readback", write_attempts=1)
out = {}
store.save(pair("A0", "R0"))
out["first"] = store.load().refresh_token
try:
    for op in ("INSERT", "UPDATE", "DELETE"):  # writes that report success and change nothing
        db.execute(f"CREATE TRIGGER ignore_{op.lower()} BEFORE {op} ON variable BEGIN SELECT RAISE(IGNORE); END")
    db.commit()
    try:
        store.save(pair("A1", "R1"))
        out["second"] = ["no error", ""]
    except Exception as err:
        out["second"] = [type(err).__name__, str(err)]
finally:
    for op in ("insert", "update", "delete"):
        db.execute(f"DROP TRIGGER IF EXISTS ignore_{op}")
    db.execute("DELETE FROM variable WHERE key = 'orangelogic_token_readback'")
    db.commit()
print("RESULT=" + json.dumps(out))
"""


def test_variable_write_ignored_by_the_database(sandbox):
    """Real Airflow, the metadata DB ignores the Variable write: the store says so instead of reporting success"""
    out = sandbox.python(READ_BACK_IN_AIRFLOW).stdout
    result = json.loads(next(ln for ln in out.splitlines() if ln.startswith("RESULT=")).removeprefix("RESULT="))
    assert result["first"] == "R0"
    kind, message = result["second"]
    assert kind == "TokenStoreError" and "did not take effect" in message, result
    assert "R1" not in message and "A1" not in message
