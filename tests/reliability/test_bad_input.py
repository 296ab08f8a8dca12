"""Bad input a user could plausibly type: each gets a clear error naming the field and the fix,
and nothing is sent, stored or lost."""

from __future__ import annotations

import json

import pendulum
import pytest

from airflow_provider_orangelogic.core.errors import ConfigurationError, TokenStoreError
from airflow_provider_orangelogic.core.settings import OrangeLogicSettings
from airflow_provider_orangelogic.oauth.token_endpoint import validate_code
from airflow_provider_orangelogic.oauth.tokens import TokenPair, pair_from_response
from tests.conftest import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, MemoryStore, make_manager

SECRET = "s3cr3t-value-never-shown"

CONNECTION_FIELDS = [
    ({"host": ""}, "Host is empty"),
    ({"host": "   "}, "Host is empty"),
    ({"host": "https://"}, "has no host name"),
    ({"host": "dam example.com"}, "spaces or control characters"),
    ({"host": "https://dam.example.com/path"}, "without a path"),
    ({"host": "https://dam.example.com/?a=1"}, "without a path, query"),
    ({"host": "https://dam.example.com/#top"}, "fragment"),
    ({"host": "ftp://dam.example.com"}, "scheme 'ftp'"),
    ({"host": "http://dam.example.com"}, "allow_insecure_http"),
    ({"host": "http://[2001:db8::1]"}, "allow_insecure_http"),
    ({"host": "https://user:pw@dam.example.com"}, "must not contain user credentials"),
    ({"host": "https://dam.example.com:99999"}, "invalid port"),
    ({"login": ""}, "Client ID (login) is empty"),
    ({"login": None}, "Client ID (login) is empty"),
    ({"login": "   "}, "Client ID (login) is empty"),
    ({"login": " client"}, "leading or trailing whitespace"),
    ({"login": "cli\x07ent"}, "control characters"),
    ({"password": ""}, "Client secret (password) is empty"),
    ({"password": "\t "}, "Client secret (password) is empty"),
    ({"password": SECRET + "\n"}, "leading or trailing whitespace"),
    ({"password": "abc\x00def"}, "control characters"),
    ({"redirect_uri": "/relative/cb"}, "absolute http(s) URL"),
    ({"redirect_uri": "ftp://x.example.com/cb"}, "absolute http(s) URL"),
    ({"redirect_uri": "https://x.example.com/c b"}, "without spaces"),
    ({"token_variable": "has space"}, "not a valid Airflow Variable key"),
    ({"token_variable": ""}, "not a valid Airflow Variable key"),
    ({"token_variable": "a/b"}, "not a valid Airflow Variable key"),
    ({"token_variable": "x" * 251}, "not a valid Airflow Variable key"),
    ({"token_variable": "a..b"}, "must not contain '..'"),
    ({"timeout": 0}, "timeout must be greater than zero"),
    ({"timeout": -3}, "timeout must be greater than zero"),
    ({"timeout": "soon"}, "timeout must be a number"),
    ({"timeout": "nan"}, "timeout must be a finite number"),
    ({"timeout": True}, "timeout must be a number"),
    ({"token_request_encoding": "xml"}, "token_request_encoding 'xml' is not supported"),
    ({"default_access_token_lifetime": 0}, "default_access_token_lifetime must be greater than zero"),
    ({"default_access_token_lifetime": "a day"}, "default_access_token_lifetime must be a number"),
    ({"default_refresh_token_lifetime": -1}, "default_refresh_token_lifetime must be greater than zero"),
    ({"refresh_threshold": 1.5}, "between 0 and 1"),
    ({"refresh_threshold": 0}, "between 0 and 1"),
    ({"verify_ssl": "maybe"}, "verify_ssl must be true or false"),
    ({"allow_insecure_http": "perhaps"}, "allow_insecure_http must be true or false"),
    ({"token_endpoint": "webapi/token"}, "token_endpoint must be a path starting with '/'"),
    ({"authorize_endpoint": "https://evil.example.com/auth"}, "authorize_endpoint must be a path"),
    ({"tokn_variable": "x"}, "unknown extra field(s) tokn_variable"),
]


@pytest.mark.parametrize(("change", "message"), CONNECTION_FIELDS, ids=[repr(c)[:60] for c, _ in CONNECTION_FIELDS])
def test_connection_field(change, message):
    """A connection field"""
    fields = {"host": "https://dam.example.com", "login": "client", "password": SECRET}
    extra = {k: v for k, v in change.items() if k not in fields}
    fields.update({k: v for k, v in change.items() if k in fields})
    with pytest.raises(ConfigurationError) as info:
        OrangeLogicSettings.from_connection_fields(conn_id="ol", extra=extra, **fields)
    assert message in str(info.value) and "'ol'" in str(info.value)
    assert SECRET not in str(info.value)


def test_extra_that_is_not_an_object():
    """The connection's extra is a JSON array"""
    with pytest.raises(ConfigurationError, match="extra must be a JSON object"):
        OrangeLogicSettings.from_connection_fields(
            conn_id="ol", host="https://d.example.com", login="c", password="s", extra=["x"]
        )


CODES = [
    ("", "empty"),
    ("   ", "empty"),
    (None, "empty"),
    (12345, "empty"),
    ("abc\ndef", "line breaks"),
    ("abc def", "spaces"),
    ("abc\tdef", "spaces"),
    ("x" * 100_000, "characters long"),
]


@pytest.mark.parametrize(
    ("code", "message"), CODES, ids=["empty", "blank", "None", "a number", "newline", "space", "tab", "100 kB"]
)
def test_authorization_code(stand_in, tmp_path, code, message):
    """An authorization code"""
    store = MemoryStore()
    with pytest.raises(ConfigurationError, match=message) as info:
        make_manager(stand_in.url, store, tmp_path).exchange_code(code)
    if isinstance(code, str) and code.strip():
        assert code.strip()[:20] not in str(info.value)
    assert store.text is None and stand_in.counters()["token_requests"] == 0


def test_code_pasted_with_surrounding_whitespace_is_accepted():
    """An authorization code pasted with a trailing newline (accepted, trimmed)"""
    assert validate_code("  abc123\n") == "abc123"


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
RECORDS = [
    ("{not json", "does not hold valid JSON"),
    (json.dumps(GOOD)[:40], "does not hold valid JSON"),
    ("", "does not hold valid JSON"),
    ("[1, 2]", "holds a JSON list"),
    ("null", "holds a JSON NoneType"),
    ('"just a string"', "holds a JSON str"),
    (json.dumps({k: v for k, v in GOOD.items() if k != "refresh_token"}), "lacks the field(s) refresh_token"),
    (json.dumps({"access_token": "A"}), "lacks the field(s) refresh_token, token_type"),
    (json.dumps({**GOOD, "access_token_expires_at": "tomorrow"}), "access_token_expires_at is not an ISO 8601"),
    (json.dumps({**GOOD, "refresh_token_expires_at": "2026-13-45"}), "refresh_token_expires_at is not an ISO"),
    (json.dumps({**GOOD, "obtained_at": 12}), "obtained_at is not an ISO 8601"),
    (json.dumps({**GOOD, "refresh_token": ""}), "refresh_token is empty"),
    (json.dumps({**GOOD, "host": None}), "field host must be a string"),
]


@pytest.mark.parametrize(("text", "message"), RECORDS, ids=[m for _, m in RECORDS])
def test_stored_variable(text, message):
    """The token Variable's content"""
    with pytest.raises(TokenStoreError) as info:
        TokenPair.from_json(text, source="Airflow Variable 'orangelogic_token_x'")
    assert message in str(info.value)
    assert "Airflow Variable 'orangelogic_token_x'" in str(info.value)
    assert "authorize again (exchange a new authorization code)" in str(info.value)


def test_pair_issued_by_another_host(stand_in, tmp_path):
    """The token Variable holds a pair issued by another host: refused, never sent there"""
    store = MemoryStore()
    make_manager(stand_in.url, store, tmp_path).exchange_code(stand_in.authorize(REDIRECT_URI))
    before = store.text
    moved = make_manager("https://dam.other.example", store, tmp_path)
    with pytest.raises(TokenStoreError, match=r"was issued by http://127\.0\.0\.1.*points to https://dam\.other"):
        moved.refresh(force=True)
    assert store.text == before


HOOK_CASES = {
    "connection missing": ("ol_missing", "get_access_token()", "isn't defined"),
    "wrong connection type": ("ol_http", "get_access_token()", "needs a connection of type 'orangelogic'"),
    "authorization URL without redirect_uri": ("ol_noredirect", "get_authorization_url()", "no redirect_uri"),
    "empty code through the hook": ("ol_noredirect", "exchange_code('')", "authorization code is empty"),
    "page_size 0": ("ol_noredirect", "search('*', page_size=0).__next__()", "page_size must be an integer"),
    "absolute URL as endpoint": (
        "ol_noredirect",
        "request('GET', 'https://evil.example.com/x')",
        "must be a path relative",
    ),
    "extra that is not JSON": ("ol_badextra", "get_access_token()", "Extra is not valid JSON"),
}


@pytest.fixture(scope="module")
def hook_errors(sandbox):
    conn = {
        "conn_type": "orangelogic",
        "host": "https://dam.example.com",
        "login": CLIENT_ID,
        "password": CLIENT_SECRET,
    }
    env = {
        "AIRFLOW_CONN_OL_HTTP": json.dumps({**conn, "conn_type": "http"}),
        "AIRFLOW_CONN_OL_NOREDIRECT": json.dumps(conn),
        "AIRFLOW_CONN_OL_BADEXTRA": json.dumps({**conn, "extra": "{not json"}),
    }
    code = (
        "import json\nfrom airflow_provider_orangelogic.hooks.orangelogic import OrangeLogicHook\n"
        "out = {}\n"
        f"for name, (conn_id, call, _) in {HOOK_CASES!r}.items():\n"
        "    try:\n"
        "        eval('OrangeLogicHook(conn_id).' + call, {'OrangeLogicHook': OrangeLogicHook, 'conn_id': conn_id})\n"
        "        out[name] = ['no error', '']\n"
        "    except Exception as err:\n"
        "        out[name] = [type(err).__name__, str(err)]\n"
        "print('RESULT=' + json.dumps(out))\n"
    )
    out = sandbox.python(code, env=env).stdout
    return json.loads(next(ln for ln in out.splitlines() if ln.startswith("RESULT=")).removeprefix("RESULT="))


@pytest.mark.parametrize("case", list(HOOK_CASES))
def test_through_the_hook(hook_errors, case):
    """Through OrangeLogicHook in a real Airflow"""
    kind, message = hook_errors[case]
    assert HOOK_CASES[case][2] in message, (kind, message)
    assert CLIENT_SECRET not in message
