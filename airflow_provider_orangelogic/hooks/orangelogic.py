"""OrangeLogicHook: Orange Logic credentials from an Airflow connection, tokens from a Variable."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

import requests

from airflow_provider_orangelogic.api.search import DEFAULT_FIELDS, DEFAULT_PAGE_LIMIT, SEARCH_ENDPOINT, iter_search
from airflow_provider_orangelogic.api.session import AccessTokenSource, FixedToken, new_session, send_with_retries
from airflow_provider_orangelogic.api.windows import ModifiedWindow
from airflow_provider_orangelogic.compat import BaseHook, warn_of_known_breakage
from airflow_provider_orangelogic.core.errors import ConfigurationError, OrangeLogicAPIError, redact
from airflow_provider_orangelogic.core.fields import AUTHORIZATION_CODE, BEARER_TOKEN, CLIENT_CREDENTIALS, CONN_TYPE
from airflow_provider_orangelogic.core.retry import RetryPolicy
from airflow_provider_orangelogic.core.settings import OrangeLogicSettings
from airflow_provider_orangelogic.hooks import _airflow_context, connection_form, messages
from airflow_provider_orangelogic.hooks.connection_settings import settings_from_connection

# Re-exported: DAG authors and the operators import these from here.
from airflow_provider_orangelogic.hooks.errors import (
    OrangeLogicConfigurationError as OrangeLogicConfigurationError,
)
from airflow_provider_orangelogic.hooks.errors import (
    OrangeLogicReauthorizationRequired as OrangeLogicReauthorizationRequired,
)
from airflow_provider_orangelogic.hooks.errors import OrangeLogicTokenStoreError as OrangeLogicTokenStoreError
from airflow_provider_orangelogic.hooks.errors import airflow_errors
from airflow_provider_orangelogic.hooks.variable_store import VariableTokenStore, default_variable_key
from airflow_provider_orangelogic.oauth.grants import AuthorizationCodeGrant, Grant, grant_for
from airflow_provider_orangelogic.oauth.manager import TokenManager, utc_now
from airflow_provider_orangelogic.oauth.redirect import parse_pasted
from airflow_provider_orangelogic.oauth.state import IssuedStates, StateRecordStore, new_state
from airflow_provider_orangelogic.oauth.stores import TokenStore
from airflow_provider_orangelogic.oauth.token_endpoint import TokenEndpointClient, validate_code
from airflow_provider_orangelogic.oauth.tokens import TokenPair

if TYPE_CHECKING:
    from airflow_provider_orangelogic.api.upload_parts import UploadSource
    from airflow_provider_orangelogic.api.uploads import UploadResult

if TYPE_CHECKING:
    from airflow_provider_orangelogic.api.metadata import MetadataResult


class OrangeLogicHook(BaseHook):
    """Talk to the Orange Logic API with an OAuth 2.0 token pair kept in an Airflow Variable.

    Host = the Orange Logic URL, Login = client ID, Password = client secret; the extra fields
    are documented in docs/connection.md. The token pair lives in the Variable
    ``orangelogic_token_<conn_id>`` unless the connection names another in ``token_variable``.

    :param orangelogic_conn_id: The Orange Logic connection to use.
    :param wait_for_refresh: Seconds a caller holding an expired access token waits for the
        refresh DAG to store a new pair before failing.
    :param retry: Backoff policy for API and token endpoint calls.
    :param lock_dir: Directory of the host-wide refresh locks and the rescue journal (default:
        ``[orangelogic] lock_dir``, else ``$ORANGELOGIC_LOCK_DIR``, else a private per-user directory under
        AIRFLOW_HOME). Checked on every use: ours, not a link, mode 0700. ``refresh_on_demand`` requires it
        to be set explicitly, to one directory every process on the host shares.
    :param token_store: Where the pair lives (any ``TokenStore``, see
        ``airflow_provider_orangelogic.oauth.stores``); default: the connection's Airflow Variable.
    :param state_store: Where the states of issued authorization URLs live (``oauth/state.py``);
        default: the Airflow Variable ``orangelogic_issued_states_<conn_id>``.
    """

    conn_name_attr = "orangelogic_conn_id"
    default_conn_name = "orangelogic_default"
    conn_type = CONN_TYPE
    hook_name = "Orange Logic"

    # The connection form on Airflow 3.0/3.1; 3.2+ reads conn-fields from the provider info and skips these.
    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        return connection_form.connection_form_widgets()

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return connection_form.ui_field_behaviour()

    def __init__(
        self,
        orangelogic_conn_id: str = default_conn_name,
        *,
        wait_for_refresh: float = 60.0,
        retry: RetryPolicy | None = None,
        lock_dir: str | None = None,
        token_store: TokenStore | None = None,
        state_store: StateRecordStore | None = None,
    ) -> None:
        super().__init__()
        warn_of_known_breakage(self.log)
        self.orangelogic_conn_id = orangelogic_conn_id
        self.wait_for_refresh = wait_for_refresh
        self.retry = retry or RetryPolicy()
        self.lock_dir = lock_dir
        self._token_store = token_store
        self._state_store = state_store
        self._session: requests.Session | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(orangelogic_conn_id={self.orangelogic_conn_id!r})"

    # -- wiring ---------------------------------------------------------------------------------

    @cached_property
    def settings(self) -> OrangeLogicSettings:
        return settings_from_connection(self.orangelogic_conn_id, self.conn_type)

    @property
    def token_variable(self) -> str:
        return self.settings.token_variable or default_variable_key(self.orangelogic_conn_id)

    @cached_property
    def token_store(self) -> TokenStore:
        return self._token_store or VariableTokenStore(self.token_variable, self.orangelogic_conn_id)

    @property
    def auth_mode(self) -> str:
        return self.settings.auth_mode

    @cached_property
    def grant(self) -> Grant:
        """How this connection renews its token (its ``auth_mode``); a bearer-token connection has none."""
        with self._airflow_errors():
            return grant_for(self.settings, TokenEndpointClient(self.settings, retry=self.retry))

    @cached_property
    def token_source(self) -> AccessTokenSource:
        """What hands out access tokens: the token manager, or the fixed token of a bearer-token connection."""
        if self.auth_mode == BEARER_TOKEN:
            return FixedToken(self.settings.bearer_token)
        return self.token_manager

    @cached_property
    def token_manager(self) -> TokenManager:
        with self._airflow_errors():  # refresh_on_demand without a shared lock_dir is refused here
            return TokenManager(
                self.settings,
                self.grant,
                self.token_store,
                lock_dir=self.lock_dir,
                wait_for_refresh=self.wait_for_refresh,
                on_new_pair=_mask_pair,
                advice=messages.AIRFLOW_ADVICE,
            )

    # -- authorization --------------------------------------------------------------------------

    def get_authorization_url(self, state: str | None = None, redirect_uri: str | None = None) -> str:
        """The URL a person opens to approve the application, with a state issued for this connection.

        Without ``state`` a new one is issued and recorded (``issued_states``): the exchange of the code
        accepts it once, within ``[orangelogic] state_lifetime_seconds`` (30 minutes). A given ``state`` is
        used as is and not recorded: its caller checks it (the Orange Logic page does). ``redirect_uri``
        overrides the connection's (the Orange Logic page sends its own callback).
        """
        grant = self._authorization_code_grant()
        if state is not None:
            return grant.authorization_url(state=state, redirect_uri=redirect_uri)
        issued = new_state()
        url = grant.authorization_url(state=issued, redirect_uri=redirect_uri)  # a bad connection fails first
        self.issued_states.issue(host=self.settings.base_url, client_id=self.settings.client_id or "", state=issued)
        return url

    @cached_property
    def issued_states(self) -> IssuedStates:
        """The states of this connection's authorization URLs: issued by get_authorization_url, spent by
        exchange_code."""
        from airflow_provider_orangelogic.hooks.state_variable import issued_states_for

        return issued_states_for(self.orangelogic_conn_id, store=self._state_store, lock_dir=self.lock_dir)

    def _authorization_code_grant(self) -> AuthorizationCodeGrant:
        if self.auth_mode != AUTHORIZATION_CODE:
            raise OrangeLogicConfigurationError(
                f"Connection {self.orangelogic_conn_id!r} uses auth_mode {self.auth_mode}, which needs no "
                "authorization by a person: there is no authorization URL or code to exchange. Set auth_mode to "
                "authorization_code on the connection to use that grant."
            )
        return self.grant  # type: ignore[return-value]

    def exchange_code(
        self,
        code: str,
        *,
        state: str | None = None,
        skip_state_check: bool = False,
        state_verified_by: str | None = None,
    ) -> dict[str, Any]:
        """Trade an authorization code for the first token pair and store it; returns a summary.

        :param code: The whole address the browser landed on after approving (code and state are taken
            from it), or only the code with ``state``.
        :param state: The state that came back with the code (when ``code`` is a bare code).
        :param skip_state_check: Exchange without checking the state: only for a code from an authorization
            URL this deployment did not issue, opened on purpose. Logged as a warning.
        :param state_verified_by: Who already checked the state against its own records (the Orange Logic
            page does, with its own single-use states); then this hook does not check it again.

        Otherwise the state must be one ``get_authorization_url()`` issued for this connection, unused and
        at most ``[orangelogic] state_lifetime_seconds`` old; it is spent before the code is sent.
        """
        _airflow_context.mask(code if isinstance(code, str) else None)
        if isinstance(code, str):
            _airflow_context.mask(code.strip())
        self._authorization_code_grant()
        with self._airflow_errors():
            pasted = parse_pasted(code)
            _airflow_context.mask(pasted.code)
            if state is not None and pasted.state is not None and state != pasted.state:
                raise ConfigurationError(
                    "The state given differs from the one in the pasted address; give the address alone. "
                    "Nothing was exchanged."
                )
            state = state if state is not None else pasted.state
            if state_verified_by:
                self.log.info("The state of this authorization was checked by %s.", state_verified_by)
            elif skip_state_check:
                self.log.warning(
                    "Exchanging a code for %s WITHOUT checking its state (skip_state_check): this is safe only "
                    "if you opened the authorization URL yourself, on purpose.",
                    self.orangelogic_conn_id,
                )
            else:
                self.issued_states.spend(state, host=self.settings.base_url, client_id=self.settings.client_id or "")
                self.log.info("The state matches one this deployment issued for %s; spent.", self.orangelogic_conn_id)
            pair = self.token_manager.exchange_code(validate_code(pasted.code))
        self.log.info(
            "Stored a new token pair in %s; the access token expires at %s, the refresh token at %s.",
            self.token_store.description,
            pair.access_token_expires_at.to_iso8601_string(),
            pair.refresh_token_expires_at.to_iso8601_string(),
        )
        return {"conn_id": self.orangelogic_conn_id, **self._store_fields(), **pair.summary()}

    def refresh_tokens(self, force: bool = False) -> dict[str, Any]:
        """Renew the token if it is due (always with ``force``), as the connection's auth mode does it.

        Authorization code: refresh with the refresh token. Client credentials: a new access token.
        Bearer token: nothing to renew (logged and reported). Returns a summary without secrets.
        """
        head = {"conn_id": self.orangelogic_conn_id, "auth_mode": self.auth_mode}
        if self.auth_mode == BEARER_TOKEN:
            reason = "the connection uses a fixed bearer token, which is never renewed"
            self.log.info("Nothing to refresh for %s: %s.", self.orangelogic_conn_id, reason)
            return {**head, "refreshed": False, "reason": reason}
        verb = "Refreshed the token pair" if self.auth_mode == AUTHORIZATION_CODE else "Renewed the access token"
        with messages.refresh_failure_explained(self), self._airflow_errors():
            result = self.token_manager.refresh(force=force)
        if result.refreshed and self.auth_mode == AUTHORIZATION_CODE:
            self.log.info(
                "%s in %s (%s); the access token now expires at %s, the refresh token at %s.",
                verb,
                self.token_store.description,
                result.reason,
                result.pair.access_token_expires_at.to_iso8601_string(),
                result.pair.refresh_token_expires_at.to_iso8601_string(),
            )
        elif result.refreshed:
            self.log.info(
                "%s in %s (%s); the access token now expires at %s.",
                verb,
                self.token_store.description,
                result.reason,
                result.pair.access_token_expires_at.to_iso8601_string(),
            )
        else:
            self.log.info("No renewal of %s needed: %s.", self.token_store.description, result.reason)
        return {
            **head,
            **self._store_fields(),
            "refreshed": result.refreshed,
            "reason": result.reason,
            **result.pair.summary(),
        }

    def get_access_token(self) -> str:
        """A valid access token for the connection's host."""
        with self._airflow_errors():
            return self.token_source.access_token()

    def token_status(self) -> dict[str, Any]:
        """Expiry times and remaining lifetimes of the stored token(s), never the tokens themselves."""
        head = {"conn_id": self.orangelogic_conn_id, "auth_mode": self.auth_mode}
        if self.auth_mode == BEARER_TOKEN:
            return {**head, "access_token_valid": True, "expires": "never (valid until revoked in Orange Logic)"}
        with self._airflow_errors():
            pair = (
                self.token_manager.read_if_any() if self.auth_mode == CLIENT_CREDENTIALS else self.token_manager.read()
            )
        if pair is None:
            return {**head, **self._store_fields(), "access_token_valid": False, "needs_refresh": True,
                    "note": "no token obtained yet: the first call gets one"}  # fmt: skip
        now = utc_now()
        return {
            **head,
            **self._store_fields(),
            "access_token_valid": pair.access_token_valid(now.timestamp()),
            "refresh_token_valid": self.grant.renewable(pair, now),
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
            self._session = new_session(
                self.token_source, verify=self.settings.verify_ssl, base_url=self.settings.base_url
            )
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
                f"{messages.rejection_hint(self.auth_mode) if response.status_code == 401 else ''}: "
                f"{_short_body(response, self._known_secrets(response))}",
                status_code=response.status_code,
            )
        return response

    def _known_secrets(self, response: requests.Response) -> list[str | None]:
        """What a server might echo into an answer: the token it was sent, the client secret, the pair held."""
        sent = (response.request.headers.get("Authorization") or "").removeprefix("Bearer ")
        held = getattr(self.token_source, "_cached", None)  # the TokenManager's last pair, if any
        pair = [held.access_token, held.refresh_token] if isinstance(held, TokenPair) else []
        return [sent, self.settings.client_secret, *pair]

    def search(
        self,
        query: str,
        fields: Sequence[str] = DEFAULT_FIELDS,
        page_size: int = 100,
        *,
        max_pages: int | None = None,
        endpoint: str = SEARCH_ENDPOINT,
        on_page: Callable[[int, int], None] | None = None,
        concurrency: int = 1,
        page_limit: int = DEFAULT_PAGE_LIMIT,
        modified: ModifiedWindow | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Yield every asset matching an Orange Logic query (e.g. ``MediaType:Image``), in page order.

        ``concurrency`` pages are fetched at once at most (default 1: one after another, one page in
        memory); items still come in page order and at most ``concurrency`` pages are held. 429/503
        answers lower the pace (see ``api/search.py``). ``on_page(page_number, items_on_page)`` is
        called per page. A page that fails after retries raises ``SearchPageError`` naming it, as does a
        search that would not end (a repeated page, or more than ``page_limit`` pages). ``modified``
        narrows it to assets changed in a half-open window (``api/windows.py``), for incremental runs.
        """
        return iter_search(
            self.request,
            modified.query(query) if modified else query,
            fields=fields,
            page_size=page_size,
            max_pages=max_pages,
            endpoint=endpoint,
            on_page=on_page,
            concurrency=concurrency,
            page_limit=page_limit,
        )

    # -- data: uploads, metadata, files out (the logic is in api/; each method hands it self.request) --

    def upload(self, sources: Iterable[UploadSource], **options: Any) -> list[UploadResult]:
        """Upload files into Orange Logic, small ones in one call, large ones in resumable chunks.

        ``options``: ``folder_record_id`` or ``record_id``, ``metadata``, ``multipart_threshold``, ``chunk_size``,
        ``concurrency``, ``checkpoints``, ``fail_fast``, ... (``api/uploads.py`` ``upload_files``, docs/uploads.md).
        """
        from airflow_provider_orangelogic.api.uploads import upload_files

        return upload_files(self.request, sources, **options)

    def update_metadata(self, rows: Iterable[Mapping[str, Any]], **options: Any) -> MetadataResult:
        """Write field values onto assets: ``api/metadata.py`` ``update_metadata`` (docs/metadata.md).

        One DataTable v2.2 call per row (POST form data by default), ``concurrency`` rows at once paced as
        search is; a :class:`~airflow_provider_orangelogic.api.metadata.RowResult` per row. ``method="auto"``
        measures GET URLs with this connection's host.
        """
        from airflow_provider_orangelogic.api.metadata import update_metadata

        if options.get("method") == "auto":
            options.setdefault("base_url", self.settings.base_url)
        return update_metadata(self.request, rows, **options)

    def export_files(
        self, targets: Iterable[str | int | Mapping[str, Any]], *, destination: Any, **options: Any
    ) -> dict[str, Any]:
        """Presigned links for assets and their files streamed out: ``api/files_out.py`` (docs/files-out.md).

        ``destination`` is an ``api.files_out.Destination``; returns ``ExportSummary.as_dict()`` (no URLs).
        Downloads use a plain session (never the bearer token) with this hook's retry policy and timeout.
        """
        from airflow_provider_orangelogic.api.files_out import export_files

        options.setdefault("retry", self.retry)
        options.setdefault("timeout", self.settings.timeout)
        return export_files(self.request, targets, destination=destination, **options).as_dict()

    def _airflow_errors(self) -> contextlib.AbstractContextManager[None]:
        """Errors no retry can fix become AirflowFailException subclasses (``hooks/errors.py``)."""
        return airflow_errors(lambda: messages.authorization_hint(self))

    # -- the UI's Test button -------------------------------------------------------------------

    def test_connection(self) -> tuple[bool, str]:
        """The UI's Test button: check host, credentials and tokens, and say which part is wrong."""
        from airflow_provider_orangelogic.hooks.connection_check import check_connection

        return check_connection(self)


def _mask_pair(pair: TokenPair) -> None:
    _airflow_context.mask(pair.access_token, pair.refresh_token)


def _short_body(response: requests.Response, secrets: Sequence[str | None] = ()) -> str:
    text = " ".join(redact(response.text, secrets).split())
    return (text[:200] + "...") if len(text) > 200 else (text or "(empty body)")
