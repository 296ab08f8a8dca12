"""Connection fields become validated settings, with one clear message per mistake."""

from __future__ import annotations

import pytest

from airflow_provider_orangelogic.core.errors import ConfigurationError
from airflow_provider_orangelogic.core.settings import OrangeLogicSettings

SECRET = "s3cr3t-value-never-shown"


def settings(host="https://dam.example.com", login="client", password=SECRET, **extra):
    return OrangeLogicSettings.from_connection_fields(
        conn_id="ol", host=host, login=login, password=password, extra=extra
    )


def test_defaults():
    s = settings()
    assert s.base_url == "https://dam.example.com"
    assert s.token_url == "https://dam.example.com/webapi/security/oauth2/token_48I_v1"
    assert s.authorize_url == "https://dam.example.com/oauth2/auth"
    assert s.token_request_encoding == "form"
    assert s.timeout == 30
    assert s.verify_ssl is True
    assert s.default_access_token_lifetime == 86400
    assert s.default_refresh_token_lifetime == 30 * 86400
    assert SECRET not in repr(s)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("dam.example.com", "https://dam.example.com"),
        ("DAM.Example.com/", "https://dam.example.com"),
        ("https://dam.example.com:8443", "https://dam.example.com:8443"),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("http://localhost:5000", "http://localhost:5000"),
    ],
)
def test_host_normalised(host, expected):
    assert settings(host=host).base_url == expected


def test_extra_fields_parsed_in_both_spellings():
    s = settings(
        redirect_uri="https://airflow.example.com/cb",
        extra__orangelogic__token_variable="my_tokens",
        token_request_encoding="JSON",
        timeout="12.5",
        verify_ssl="false",
        default_access_token_lifetime=7200,
        refresh_threshold=0.25,
        refresh_on_demand=True,
    )
    assert (s.redirect_uri, s.token_variable, s.token_request_encoding) == (
        "https://airflow.example.com/cb",
        "my_tokens",
        "json",
    )
    assert (s.timeout, s.verify_ssl, s.default_access_token_lifetime) == (12.5, False, 7200)
    assert (s.refresh_threshold, s.refresh_on_demand) == (0.25, True)


def test_empty_ui_values_mean_default():
    s = settings(timeout="", redirect_uri=None, token_endpoint="")
    assert s.timeout == 30 and s.redirect_uri is None
    assert s.token_endpoint == "/webapi/security/oauth2/token_48I_v1"


def test_bounds_are_the_declared_ones():
    """timeout > 0 and 0 < refresh_threshold < 1, as the parser always had them (the form once said >= 1 and
    0.01..0.99); lifetimes are whole seconds > 0, as the form always had them."""
    assert settings(timeout=0.5).timeout == 0.5
    assert settings(refresh_threshold=0.001).refresh_threshold == 0.001
    assert settings(refresh_threshold="0.995").refresh_threshold == 0.995
    assert settings(default_refresh_token_lifetime=1).default_refresh_token_lifetime == 1
    assert settings(default_access_token_lifetime="3600.0").default_access_token_lifetime == 3600
    with pytest.raises(ConfigurationError, match=r"refresh_threshold must be between 0 and 1 \(exclusive\) \(got 1\)"):
        settings(refresh_threshold=1)
    with pytest.raises(ConfigurationError, match=r"default_access_token_lifetime must be a whole number, not 1\.5"):
        settings(default_access_token_lifetime=1.5)


def test_insecure_http_allowed_when_asked():
    assert settings(host="http://dam.internal", allow_insecure_http=True).base_url == "http://dam.internal"


def test_url_for_rejects_absolute_urls():
    s = settings()
    assert s.url_for("API/search/v4.0/search") == "https://dam.example.com/API/search/v4.0/search"
    with pytest.raises(ConfigurationError, match="relative to the connection's host"):
        s.url_for("https://evil.example.com/steal")
