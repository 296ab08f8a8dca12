"""The service: all state and request logic of the stand-in, independent of sockets.

Routes map a path and method to a handler; the Orange Logic paths come from ``core/endpoints.py``.
A route ending in ``*`` matches every path that starts with what comes before it (the chunk upload's
``.../{uploadItemId}``, DataTable's ``Documents.{type}.{subtype}:{action}``). ``/_standin/...`` are control
endpoints for tests in other processes; they are not counted.

The data endpoints live in one module per family (``uploads``, ``datatable``, ``files``), each with
``COUNTERS`` (its counter names), ``BODY_LIMITS`` (path prefix -> the largest body it accepts) and
``routes(service)``; they use the service's shared parts: :meth:`StandInService.guarded` (bearer check,
faults, pacing), :attr:`StandInService.lock`, :meth:`count` and :attr:`assets`.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

from airflow_provider_orangelogic.core import endpoints
from airflow_provider_orangelogic.testing.stand_in import datatable, files, uploads
from airflow_provider_orangelogic.testing.stand_in.assets import AssetBook
from airflow_provider_orangelogic.testing.stand_in.catalogue import SearchError, rendered, search_page, search_params
from airflow_provider_orangelogic.testing.stand_in.config import StandInConfig, updated, validated
from airflow_provider_orangelogic.testing.stand_in.faults import (
    DATA_ENDPOINTS,
    NO_FAULT,
    Fault,
    FaultQueue,
    pending_fault,
)
from airflow_provider_orangelogic.testing.stand_in.grants import (
    CLIENT_CREDENTIALS_PARAMS,
    TOKEN_PARAMS,
    GrantBook,
    OAuthError,
    authorization_problem,
    token_params,
)
from airflow_provider_orangelogic.testing.stand_in.messages import (
    NO_STORE,
    Request,
    Response,
    error_response,
    first_values,
    html_response,
    json_object,
    json_response,
)

CONTROL_PREFIX = "/_standin/"
COUNTER_NAMES = (
    "requests",
    "auth_requests",
    "token_requests",
    "token_success",
    "token_errors",
    "authorization_code_grants",
    "refresh_token_grants",
    "refresh_token_reuses",
    "code_reuses",
    "grants_revoked",
    "codes_issued",
    "client_credentials_requests",
    "client_credentials_grants",
    "search_requests",
    "search_pages_served",
    "search_items_served",
    "search_429",  # search requests refused for exceeding search_max_in_flight
    "search_peak_in_flight",  # the most search requests in progress at once (a high-water mark, not a count)
    "unauthorized",
    "faults_injected",
    *(f"{name}_requests" for name in DATA_ENDPOINTS),
    "data_429",  # data requests refused for exceeding data_max_in_flight
    "data_peak_in_flight",
    *uploads.COUNTERS,
    *datatable.COUNTERS,
    *files.COUNTERS,
)
FAMILIES = (uploads, datatable, files)
MAX_BODY_BYTES = 1 << 20  # what every other endpoint accepts

Handler = Callable[[Request], Response]


class StandInService:
    """State of the stand-in. Every read or write of state happens under ``self._lock``."""

    def __init__(self, config: StandInConfig) -> None:
        self._lock = threading.Lock()
        self._config = validated(config)
        self._issued: list[str] = []  # survives reset(): tests scan logs for every secret ever issued
        self._search_in_flight = 0  # survives reset(): requests in progress end after it
        self._data_in_flight = 0
        self._assets: AssetBook | None = None
        self._reset_state()
        control = CONTROL_PREFIX
        self._routes: dict[str, dict[str, Handler]] = {
            endpoints.AUTHORIZE: {"GET": self._handle_auth},
            endpoints.TOKEN: {"POST": self._with_faults("token", self._handle_token)},
            endpoints.CLIENT_CREDENTIALS: {
                "POST": self._with_faults("client_credentials", self._handle_client_credentials)
            },
            endpoints.SEARCH: dict.fromkeys(
                ("GET", "POST"), self._paced(self._with_faults("search", self._handle_search))
            ),
            f"{control}counters": {"GET": lambda _: json_response(200, self.counters())},
            f"{control}issued": {"GET": lambda _: json_response(200, self.issued_secrets())},
            f"{control}faults": {
                "POST": lambda request: _acknowledged(lambda: self.add_fault(**json_object(request.body))),
                "DELETE": lambda _: _acknowledged(self.clear_faults),
            },
            f"{control}configure": {
                "POST": lambda request: _acknowledged(lambda: self.configure(json_object(request.body))),
            },
            f"{control}reset": {"POST": lambda _: _acknowledged(self.reset)},
            f"{control}authorize": {"GET": self._control_authorize},
        }
        for family in FAMILIES:
            self._routes.update(family.routes(self))
        self._prefix_routes = [(path[:-1], routes) for path, routes in self._routes.items() if path.endswith("*")]
        self._body_limits = [(prefix, limit) for family in FAMILIES for prefix, limit in family.BODY_LIMITS.items()]

    def _reset_state(self) -> None:
        self._counters = dict.fromkeys(COUNTER_NAMES, 0)
        self._grants = GrantBook(self._counters, self._issued)
        self._faults = FaultQueue()
        if self._assets is not None:
            self._assets.close()
        self._assets = AssetBook(self._config.upload_dir)
        self._families_state: dict[str, Any] = {}  # each family's own state, under its module's name

    # ---- operations (each takes the lock) ----

    @property
    def config(self) -> StandInConfig:
        with self._lock:
            return dataclasses.replace(self._config)

    def configure(self, changes: Mapping[str, Any]) -> None:
        with self._lock:
            self._config = updated(self._config, changes)

    def reset(self) -> None:
        with self._lock:
            self._reset_state()

    def counters(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counters)

    def issued_secrets(self) -> list[str]:
        with self._lock:
            return list(self._issued)

    def add_fault(self, endpoint: str, kind: str, count: int = 1, **options: Any) -> None:
        pending = pending_fault(endpoint, kind, count, options)
        with self._lock:
            self._faults.add(pending)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def authorize(self, redirect_uri: str | None = None) -> str:
        """Issue a code to the configured client as the browser flow would; ValueError if refused."""
        with self._lock:
            config = self._config
            uri = redirect_uri or config.redirect_uris[0]
            problem = authorization_problem(config, config.client_id, uri)
            if problem is not None:
                raise ValueError(problem)
            return self._grants.issue_code(config, config.client_id, uri)

    def close(self) -> None:
        """Remove what the stand-in wrote to disk (uploaded files in a temporary directory)."""
        with self._lock:
            if self._assets is not None:
                self._assets.close()

    # ---- shared with the data endpoint families ----

    @property
    def lock(self) -> threading.Lock:
        """The lock around every read or write of state (the families' too)."""
        return self._lock

    @property
    def assets(self) -> AssetBook:
        """Uploaded assets and written metadata (hold :attr:`lock` while using it)."""
        assert self._assets is not None
        return self._assets

    @property
    def current_config(self) -> StandInConfig:
        """The configuration itself, not a copy (hold :attr:`lock`, do not change it)."""
        return self._config

    def family_state(self, name: str, factory: Callable[[], Any]) -> Any:
        """A family's own state object (made by ``factory`` on first use, forgotten by reset); hold :attr:`lock`."""
        if name not in self._families_state:
            self._families_state[name] = factory()
        return self._families_state[name]

    def count(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self.tally(name, amount)

    def tally(self, name: str, amount: int = 1) -> None:
        """:meth:`count` for a caller already holding :attr:`lock`."""
        self._counters[name] += amount

    def body_limit(self, path: str) -> int:
        """The largest request body accepted on ``path``."""
        return max([limit for prefix, limit in self._body_limits if path.startswith(prefix)], default=MAX_BODY_BYTES)

    def unauthorized(self, request: Request) -> Response | None:
        """A 401 answer when the request carries no valid access token, else None."""
        with self._lock:
            problem = self._grants.bearer_problem(request.headers.get("Authorization"), self._config.bearer_tokens)
        if problem is None:
            return None
        self.count("unauthorized")
        challenge = f'Bearer error="invalid_token", error_description="{problem}"'
        return error_response(401, "invalid_token", problem, {"WWW-Authenticate": challenge})

    def guarded(self, endpoint: str, handler: Callable[[Request, Fault], Response]) -> Handler:
        """A data endpoint's handler behind the bearer check, its faults and the data pacing.

        ``endpoint`` is its name in ``faults.DATA_ENDPOINTS``; the handler gets the request's fault and
        applies ``fault.after`` itself where it wants to (``before`` faults have already answered).
        """

        def authenticated(request: Request, fault: Fault) -> Response:
            refused = self.unauthorized(request)
            return refused if refused is not None else handler(request, fault)

        return self._paced(self._with_faults(endpoint, authenticated), data=True)

    def presigned(self, endpoint: str, handler: Callable[[Request, Fault], Response]) -> Handler:
        """A data endpoint reached with a signed URL instead of a token (a download): faults and pacing only."""
        return self._paced(self._with_faults(endpoint, handler), data=True)

    # ---- request entry point ----

    def handle(self, request: Request) -> Response:
        routes = self._routes.get(request.path)
        if routes is None:
            routes = next((r for prefix, r in self._prefix_routes if request.path.startswith(prefix)), None)
        if not request.path.startswith(CONTROL_PREFIX):
            # Control calls are not counted: tests poll them and must not disturb the numbers.
            self.count("requests")
        if routes is None:
            return error_response(404, "not_found", request.path)
        handler = routes.get(request.method)
        if handler is None:
            allowed = ", ".join(sorted(routes))
            return json_response(405, {"error": "method_not_allowed"}, {"Allow": allowed})
        return handler(request)

    def _with_faults(self, endpoint: str, handler: Callable[[Request, Fault], Response]) -> Handler:
        """``handler`` behind the faults meant for ``endpoint``: counted, then delayed or replaced by one."""

        def handle(request: Request) -> Response:
            self.count(f"{endpoint}_requests")
            fault = self._take_fault(endpoint)
            early = fault.before(endpoint)
            return early if early is not None else handler(request, fault)

        return handle

    def _paced(self, handler: Handler, *, data: bool = False) -> Handler:
        """``handler`` behind the search pacing (or, with ``data``, the data endpoints'): refused with 429
        above ``search_max_in_flight``, else delayed by ``search_latency`` (outside the lock, so that
        requests overlap as over a network)."""
        kind = "data" if data else "search"
        gauge = f"_{kind}_in_flight"

        def handle(request: Request) -> Response:
            with self._lock:
                config = self._config
                limit = getattr(config, f"{kind}_max_in_flight")
                in_flight = getattr(self, gauge)
                if limit and in_flight >= limit:
                    if not data:
                        self._counters["search_requests"] += 1
                    self._counters[f"{kind}_429"] += 1
                    refused = True
                else:
                    refused = False
                    setattr(self, gauge, in_flight + 1)
                    peak = max(self._counters[f"{kind}_peak_in_flight"], in_flight + 1)
                    self._counters[f"{kind}_peak_in_flight"] = peak
            if refused:
                wait = getattr(config, f"{kind}_retry_after")
                description = f"more than {limit} {kind} requests in progress; retry after {wait:g} s"
                return error_response(429, "too_many_requests", description, {"Retry-After": f"{wait:g}"})
            try:
                latency = getattr(config, f"{kind}_latency")
                if latency:
                    time.sleep(latency)
                return handler(request)
            finally:
                # Before the answer is written: a client that waits for its answers never exceeds the limit.
                with self._lock:
                    setattr(self, gauge, getattr(self, gauge) - 1)

        return handle

    def _take_fault(self, endpoint: str) -> Fault:
        """The fault for this request (one use of the oldest that applies), or NO_FAULT."""
        with self._lock:
            fault = self._faults.take(endpoint)
            if fault is None:
                return NO_FAULT
            self._counters["faults_injected"] += 1
            return fault

    # ---- the authorization page ----

    def _handle_auth(self, request: Request) -> Response:
        self.count("auth_requests")
        params = first_values(request.query)
        with self._lock:
            problem = authorization_problem(self._config, params.get("client_id"), params.get("redirect_uri"))
        if problem is None and params.get("response_type") != "code":
            problem = f"Unsupported response_type {params.get('response_type')!r}; use 'code'."
        if problem is not None:
            # Never redirect on a bad request: the redirect target itself may be the attacker's.
            return html_response(400, "Authorization request rejected", problem)
        redirect_uri = params["redirect_uri"]
        with self._lock:
            if self._config.deny_authorization:
                answer = {"error": "access_denied", "error_description": "The resource owner denied the request."}
            else:
                answer = {"code": self._grants.issue_code(self._config, params["client_id"], redirect_uri)}
        if "state" in params:
            answer["state"] = params["state"]
        separator = "&" if "?" in redirect_uri else "?"
        location = f"{redirect_uri}{separator}{urlencode(answer)}"
        return Response(302, b"", "text/plain", {"Location": location, "Cache-Control": "no-store"})

    # ---- token endpoint ----

    def _handle_token(self, request: Request, fault: Fault) -> Response:
        return self._issue(request, fault, lambda params: self._grants.grant_tokens(self._config, params))

    def _handle_client_credentials(self, request: Request, fault: Fault) -> Response:
        return self._issue(
            request,
            fault,
            lambda params: self._grants.client_credentials(self._config, params),
            required=CLIENT_CREDENTIALS_PARAMS,
        )

    def _issue(
        self,
        request: Request,
        fault: Fault,
        grant: Callable[[dict[str, str]], dict[str, Any]],
        required: tuple[str, ...] = TOKEN_PARAMS,
    ) -> Response:
        """A token answer from ``grant``, counted, with the request's fault applied to it."""
        try:
            params = token_params(request, required)
            with self._lock:
                payload = grant(params)
        except OAuthError as exc:
            self.count("token_errors")
            response = exc.response()
        else:
            self.count("token_success")
            fault.rewrite(payload)
            response = json_response(200, payload, NO_STORE)
        return fault.after(response)

    # ---- search endpoint ----

    def _handle_search(self, request: Request, fault: Fault) -> Response:
        refused = self.unauthorized(request)
        if refused is not None:
            return refused
        with self._lock:
            config = self._config
        params = search_params(request)
        try:
            page = search_page(params, config.catalogue_size, request.base_url)
        except SearchError as exc:
            return error_response(400, "invalid_request", str(exc))
        with self._lock:
            self._counters["search_pages_served"] += 1
            self._counters["search_items_served"] += len(page.items)
        body, content_type = rendered(page, params, config.global_info)
        return fault.after(Response(200, body, content_type))

    # ---- control endpoints ----

    def _control_authorize(self, request: Request) -> Response:
        try:
            code = self.authorize(first_values(request.query).get("redirect_uri"))
        except ValueError as exc:
            return error_response(400, "invalid_request", str(exc))
        return json_response(200, {"code": code})


def _acknowledged(action: Callable[[], object]) -> Response:
    """Run a control action: ``{"ok": true}``, or 400 with why its arguments were refused."""
    try:
        action()
    except (TypeError, ValueError) as exc:
        return error_response(400, "invalid_request", str(exc))
    return json_response(200, {"ok": True})
