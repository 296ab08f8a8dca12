"""OrangeLogicHook: Orange Logic credentials from an Airflow connection, tokens from a Variable."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Sequence
from functools import cached_property
from typing import Any

import requests
from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_orangelogic.api.search import DEFAULT_FIELDS, SEARCH_ENDPOINT, iter_search
from airflow_provider_orangelogic.api.session import new_session, send_with_retries
from airflow_provider_orangelogic.core import fields
from airflow_provider_orangelogic.core.errors import (
    ConfigurationError,
    OrangeLogicAPIError,
    OrangeLogicError,
    ReauthorizationRequired,
    TokenStoreError,
    TokenStoreUnavailable,
)
from airflow_provider_orangelogic.core.retry import RetryPolicy
from airflow_provider_orangelogic.core.settings import OrangeLogicSettings
from airflow_provider_orangelogic.hooks import _airflow_context
from airflow_provider_orangelogic.hooks.variable_store import VariableTokenStore, default_variable_key
from airflow_provider_orangelogic.oauth.grants import AuthorizationCodeGrant
from airflow_provider_orangelogic.oauth.manager import Advice, TokenManager, utc_now
from airflow_provider_orangelogic.oauth.stores import TokenStore
from airflow_provider_orangelogic.oauth.token_endpoint import TokenEndpointClient, validate_code
from airflow_provider_orangelogic.oauth.tokens import TokenPair

# A code no server will accept: asking the token endpoint to exchange it tells bad client
# credentials (invalid_client) from good ones (invalid_grant) without spending anything.
_PROBE_CODE = "airflow-connection-test"

# What a person does about the token pair, in Airflow's words.
AIRFLOW_ADVICE = Advice(
    authorize="Authorize once more: open the authorization URL (OrangeLogicHook.get_authorization_url()), "
    "approve, and run the orangelogic_token_exchange DAG with the code.",
    keep_refreshing="Check that the orangelogic_token_refresh DAG is unpaused and succeeding, or set "
    "refresh_on_demand to true on the connection (safe on a single host only).",
)


class OrangeLogicReauthorizationRequired(ReauthorizationRequired, AirflowFailException):
    """A person must authorize again; the task fails at once instead of retrying."""


class OrangeLogicConfigurationError(ConfigurationError, AirflowFailException):
    """The connection or an argument is wrong; retrying cannot help."""


class OrangeLogicTokenStoreError(TokenStoreError, AirflowFailException):
    """The stored pair is missing, corrupt, for another host or shadowed; retrying cannot help."""


class OrangeLogicHook(BaseHook):
    """Talk to the Orange Logic API with an OAuth 2.0 token pair kept in an Airflow Variable.

    Host = the Orange Logic URL, Login = client ID, Password = client secret; the extra fields
    are documented in docs/connection.md. The token pair lives in the Variable
    ``orangelogic_token_<conn_id>`` unless the connection names another in ``token_variable``.

    :param orangelogic_conn_id: The Orange Logic connection to use.
    :param wait_for_refresh: Seconds a caller holding an expired access token waits for the
        refresh DAG to store a new pair before failing.
    :param retry: Backoff policy for API and token endpoint calls.
    :param lock_dir: Directory of the host-wide refresh lock files (default: the system temp dir).
    :param token_store: Where the pair lives (any ``TokenStore``, see
        ``airflow_provider_orangelogic.oauth.stores``); default: the connection's Airflow Variable.
    """

    conn_name_attr = "orangelogic_conn_id"
    default_conn_name = "orangelogic_default"
    conn_type = fields.CONN_TYPE
    hook_name = "Orange Logic"

    def __init__(
        self,
        orangelogic_conn_id: str = default_conn_name,
        *,
        wait_for_refresh: float = 60.0,
        retry: RetryPolicy | None = None,
        lock_dir: str | None = None,
        token_store: TokenStore | None = None,
    ) -> None:
        super().__init__()
        self.orangelogic_conn_id = orangelogic_conn_id
        self.wait_for_refresh = wait_for_refresh
        self.retry = retry or RetryPolicy()
        self.lock_dir = lock_dir
        self._token_store = token_store
        self._session: requests.Session | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(orangelogic_conn_id={self.orangelogic_conn_id!r})"

    # -- wiring ---------------------------------------------------------------------------------

    @cached_property
    def settings(self) -> OrangeLogicSettings:
        conn = _airflow_context.get_connection(self.orangelogic_conn_id)
        _airflow_context.mask(conn.password)
        if conn.conn_type and conn.conn_type != self.conn_type:
            raise OrangeLogicConfigurationError(
                f"Connection {self.orangelogic_conn_id!r} has type {conn.conn_type!r}; OrangeLogicHook needs "
                f"a connection of type {self.conn_type!r} (Orange Logic)."
            )
        try:
            return OrangeLogicSettings.from_connection_fields(
                conn_id=self.orangelogic_conn_id,
                host=conn.host,
                login=conn.login,
                password=conn.password,
                extra=_extra_of(conn),
            )
        except ConfigurationError as err:
            raise OrangeLogicConfigurationError(str(err)) from None

    @property
    def token_variable(self) -> str:
        return self.settings.token_variable or default_variable_key(self.orangelogic_conn_id)

    @cached_property
    def token_store(self) -> TokenStore:
        return self._token_store or VariableTokenStore(self.token_variable, self.orangelogic_conn_id)

    @cached_property
    def grant(self) -> AuthorizationCodeGrant:
        return AuthorizationCodeGrant(TokenEndpointClient(self.settings, retry=self.retry))

    @cached_property
    def token_manager(self) -> TokenManager:
        return TokenManager(
            self.settings,
            self.grant,
            self.token_store,
            lock_dir=self.lock_dir,
            wait_for_refresh=self.wait_for_refresh,
            on_new_pair=_mask_pair,
            advice=AIRFLOW_ADVICE,
        )

    # -- authorization --------------------------------------------------------------------------

    def get_authorization_url(self, state: str | None = None) -> str:
        """The URL a person opens to approve the application; a random ``state`` when none is given."""
        return self.grant.authorization_url(state=state)

    def exchange_code(self, code: str) -> dict[str, Any]:
        """Trade an authorization code for the first token pair and store it; returns a summary."""
        _airflow_context.mask(code if isinstance(code, str) else None)
        with self._airflow_errors():
            code = validate_code(code)
            pair = self.token_manager.exchange_code(code)
        self.log.info(
            "Stored a new token pair in %s; the access token expires at %s, the refresh token at %s.",
            self.token_store.description,
            pair.access_token_expires_at.to_iso8601_string(),
            pair.refresh_token_expires_at.to_iso8601_string(),
        )
        return {"conn_id": self.orangelogic_conn_id, **self._store_fields(), **pair.summary()}

    def refresh_tokens(self, force: bool = False) -> dict[str, Any]:
        """Refresh the pair if the policy says so (always with ``force``); returns a summary."""
        with self._airflow_errors():
            result = self.token_manager.refresh(force=force)
        if result.refreshed:
            self.log.info(
                "Refreshed the token pair in %s (%s); the access token now expires at %s.",
                self.token_store.description,
                result.reason,
                result.pair.access_token_expires_at.to_iso8601_string(),
            )
        else:
            self.log.info("No refresh of %s needed: %s.", self.token_store.description, result.reason)
        return {
            "conn_id": self.orangelogic_conn_id,
            **self._store_fields(),
            "refreshed": result.refreshed,
            "reason": result.reason,
            **result.pair.summary(),
        }

    def get_access_token(self) -> str:
        """A valid access token for the connection's host."""
        with self._airflow_errors():
            return self.token_manager.access_token()

    def token_status(self) -> dict[str, Any]:
        """Expiry times and remaining lifetimes of the stored pair, never the tokens themselves."""
        with self._airflow_errors():
            pair = self.token_manager.read()
        now = utc_now()
        return {
            "conn_id": self.orangelogic_conn_id,
            **self._store_fields(),
            "access_token_valid": pair.access_token_valid(now.timestamp()),
            "refresh_token_valid": pair.refresh_token_valid(now),
            "needs_refresh": pair.needs_refresh(now, self.settings.refresh_threshold),
            **pair.summary(now),
        }

    def _store_fields(self) -> dict[str, str]:
        if isinstance(self.token_store, VariableTokenStore):
            return {"token_variable": self.token_store.name}
        return {"token_store": self.token_store.description}

    # -- calling the API ------------------------------------------------------------------------

    def get_conn(self) -> requests.Session:
        """A pooled session sending ``Authorization: Bearer ...``; a 401 triggers one re-read and retry."""
        if self._session is None:
            self._session = new_session(self.token_manager, verify=self.settings.verify_ssl)
        return self._session

    def request(self, method: str, endpoint: str, *, check_response: bool = True, **kwargs: Any) -> requests.Response:
        """Send a request to ``endpoint`` (relative to the host), retrying what may pass.

        Connection errors, timeouts, 5xx and 429 (honouring ``Retry-After``) are retried with
        exponential backoff and jitter; other 4xx answers are not. With ``check_response`` a
        non-2xx answer raises OrangeLogicAPIError.
        """
        with self._airflow_errors():
            url = self.settings.url_for(endpoint)
            response = send_with_retries(
                self.get_conn(), method.upper(), url, retry=self.retry, timeout=self.settings.timeout, **kwargs
            )
        if check_response and not response.ok:
            raise OrangeLogicAPIError(
                f"{method.upper()} {endpoint} answered HTTP {response.status_code}"
                f"{' (the access token was rejected)' if response.status_code == 401 else ''}: "
                f"{_short_body(response)}",
                status_code=response.status_code,
            )
        return response

    def search(
        self,
        query: str,
        fields: Sequence[str] = DEFAULT_FIELDS,
        page_size: int = 100,
        *,
        max_pages: int | None = None,
        endpoint: str = SEARCH_ENDPOINT,
        on_page: Callable[[int, int], None] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Yield every asset matching an Orange Logic query (e.g. ``MediaType:Image``), page by page.

        Only one page is held in memory. ``on_page(page_number, items_on_page)`` is called per page.
        """
        return iter_search(
            self.request,
            query,
            fields=fields,
            page_size=page_size,
            max_pages=max_pages,
            endpoint=endpoint,
            on_page=on_page,
        )

    @contextlib.contextmanager
    def _airflow_errors(self) -> Iterator[None]:
        """Turn errors no retry can fix into AirflowFailException subclasses, keeping their messages."""
        try:
            yield
        except ReauthorizationRequired as err:
            if isinstance(err, AirflowFailException):
                raise
            raise OrangeLogicReauthorizationRequired(
                f"{err} {self._authorization_hint()}",
                oauth_error=err.oauth_error,
                description=err.description,
                status_code=err.status_code,
            ) from None
        except ConfigurationError as err:
            if isinstance(err, AirflowFailException):
                raise
            raise OrangeLogicConfigurationError(str(err)) from None
        except TokenStoreError as err:
            if isinstance(err, (AirflowFailException, TokenStoreUnavailable)):
                raise
            raise OrangeLogicTokenStoreError(str(err)) from None

    def _authorization_hint(self) -> str:
        try:
            url = self.get_authorization_url()
        except ConfigurationError:
            return "Set redirect_uri on the connection to get the authorization URL."
        return f"Open it, approve, and run the orangelogic_token_exchange DAG with the code. Authorization URL: {url}"

    # -- the UI's Test button -------------------------------------------------------------------

    def test_connection(self) -> tuple[bool, str]:
        """Check host, credentials and stored tokens, and say which part is wrong."""
        try:
            settings = self.settings
        except OrangeLogicError as err:
            return False, str(err)
        try:
            requests.get(
                settings.base_url, timeout=min(settings.timeout, 10), verify=settings.verify_ssl, allow_redirects=False
            )
        except requests.exceptions.SSLError:
            return False, f"Host {settings.base_url} answered, but its TLS certificate was not accepted."
        except requests.exceptions.RequestException as err:
            return False, f"Host {settings.base_url} is unreachable ({type(err).__name__})."
        try:
            self.grant.exchange(_PROBE_CODE)
        except ReauthorizationRequired as err:
            if err.client_rejected:
                return False, "Bad credentials: Orange Logic rejected the client ID or client secret."
        except OrangeLogicError as err:
            return False, f"The token endpoint did not answer as expected: {err}"
        try:
            status = self.token_status()
        except TokenStoreError as err:
            return False, f"Host and credentials are fine, but: {err}"
        if not status["refresh_token_valid"]:
            return False, (
                f"Host and credentials are fine, but the refresh token expired at "
                f"{status['refresh_token_expires_at']}: re-authorization needed (run orangelogic_token_exchange)."
            )
        return True, (
            f"Connected to {settings.base_url}. Access token expires at {status['access_token_expires_at']}, "
            f"refresh token at {status['refresh_token_expires_at']}."
        )


def _extra_of(conn: Any) -> Any:
    # Airflow's extra_dejson turns unreadable JSON into {} with a log line; a user deserves an error.
    raw = conn.extra
    if not raw:
        return {}
    try:
        return json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        raise OrangeLogicConfigurationError(
            f"Connection {conn.conn_id!r}: Extra is not valid JSON; enter a JSON object or leave it empty."
        ) from None


def _mask_pair(pair: TokenPair) -> None:
    _airflow_context.mask(pair.access_token, pair.refresh_token)


def _short_body(response: requests.Response) -> str:
    text = " ".join(response.text.split())
    return (text[:200] + "...") if len(text) > 200 else (text or "(empty body)")
