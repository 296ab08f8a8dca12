"""The FastAPI app of the Orange Logic page, mounted at ``/orangelogic`` on the API server.

Routes (docs/ui.md has the security model):

- ``GET /`` the page: every ``orangelogic`` connection the signed-in user may read, with its token status;
- ``POST /authorize/{connection_id}`` starts an authorization (edit permission on the connection needed)
  and redirects to Orange Logic with a fresh single-use state and this app's callback as redirect URI;
- ``GET /callback`` where Orange Logic sends the browser back: checks the state, exchanges the code
  through the hook (same protocol, same Variable as the exchange DAG) and lands on the page;
- ``POST /check/{connection_id}`` the connection's Test (``OrangeLogicHook.test_connection``) on the page.

Plugin apps get no authentication from Airflow: every route but the callback resolves the user with
Airflow's own ``GetUserDep`` (the session cookie or a bearer token, validated by the auth manager) and
asks the auth manager ``is_authorized_connection``, as Airflow's connection endpoints do. The callback
is authorized by its state (see ``authorizations.py``); when the browser also brings an Airflow login,
it must be the same user, still allowed to edit the connection.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from airflow.api_fastapi.core_api.security import GetUserDep
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from airflow_provider_orangelogic.compat import AIRFLOW_VERSION, AirflowNotFoundException, conf, mask_everywhere
from airflow_provider_orangelogic.core.errors import OrangeLogicError, TokenStoreError
from airflow_provider_orangelogic.core.fields import AUTHORIZATION_CODE, BEARER_TOKEN, CLIENT_CREDENTIALS
from airflow_provider_orangelogic.plugins import CALLBACK_PATH, PAGE_NAME, URL_PREFIX, airflow_base_url
from airflow_provider_orangelogic.plugins.authorizations import (
    STATE_LIFETIME,
    AuthorizationStates,
    StateRejected,
    VariableStateBackend,
    new_browser_key,
)
from airflow_provider_orangelogic.plugins.page import (
    ACTION,
    DUE,
    NEUTRAL,
    OK,
    Banner,
    ConnectionView,
    render_message,
    render_page,
    time_left,
    when,
)

log = logging.getLogger(__name__)

#: HttpOnly cookie binding a pending authorization to the browser that started it.
BROWSER_COOKIE = "orangelogic_authorization"
_MAX_SHOWN = 300  # characters of what Orange Logic says in error= / error_description=

router = APIRouter()


def create_app(states: AuthorizationStates | None = None) -> FastAPI:
    app = FastAPI(title=PAGE_NAME, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.orangelogic_states = states or AuthorizationStates(VariableStateBackend())
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.include_router(router)
    return app


# -- where things are ---------------------------------------------------------------------------


def _root_path() -> str:
    """The path part of ``[api] base_url`` ("" at the server's root)."""
    return urlsplit(airflow_base_url()).path.rstrip("/")


def _page_path() -> str:
    return f"{_root_path()}{URL_PREFIX}/"


def _airflow_path() -> str:
    return f"{_root_path()}/"


def callback_uri(request: Request) -> str:
    """This app's callback as the browser reaches it: from ``[api] base_url`` when set, else the request."""
    base = airflow_base_url()
    if base:
        return f"{base}{CALLBACK_PATH}"
    host = request.headers.get("host") or request.url.netloc
    return f"{request.url.scheme}://{host}{CALLBACK_PATH}"


def redirect_uri_for(settings: Any, request: Request) -> tuple[str, str]:
    """(redirect URI to authorize with, why there is none).

    The connection's Redirect URI wins when it points at a callback of this page (e.g. the public address
    behind a proxy); one pointing elsewhere would send the code somewhere this page never sees.
    """
    configured = (settings.redirect_uri or "").strip()
    if not configured:
        return callback_uri(request), ""
    if urlsplit(configured).path.rstrip("/").endswith(CALLBACK_PATH):
        return configured, ""
    return "", (
        f"The connection's Redirect URI is {configured}, which is not this page's callback: Orange Logic would send "
        f"the code there. To authorize here, set it to {callback_uri(request)} (or clear it) and register that "
        "address on the OAuth Client Application account in Orange Logic."
    )


# -- who may do what ----------------------------------------------------------------------------


def _connection_details(conn_id: str) -> Any:
    from airflow.api_fastapi.auth.managers.models.resource_details import ConnectionDetails

    if conf.getboolean("core", "multi_team", fallback=False):  # 3.1+; 3.0 has no teams
        from airflow.models.connection import Connection

        return ConnectionDetails(conn_id=conn_id, team_name=Connection.get_team_name(conn_id))
    return ConnectionDetails(conn_id=conn_id)


def may(user: Any, method: str, conn_id: str) -> bool:
    """What Airflow's ``requires_access_connection(method)`` decides, for this connection and user.

    Called directly rather than as that dependency: with ``[core] multi_team`` on it reads the team from a
    JSON request body, and these are form posts.
    """
    from airflow.api_fastapi.app import get_auth_manager

    try:
        return bool(
            get_auth_manager().is_authorized_connection(method=method, details=_connection_details(conn_id), user=user)
        )
    except Exception:
        log.exception("The auth manager could not decide on connection %s; refusing.", conn_id)
        return False


async def optional_login(request: Request) -> Any:
    """The Airflow user the request is signed in as (cookie or bearer token), or None; never raises."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN

    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else request.cookies.get(COOKIE_NAME_JWT_TOKEN)
    if not token:
        return None
    try:
        return await get_auth_manager().get_user_from_token(token)
    except Exception:
        return None


OptionalLoginDep = Annotated[Any, Depends(optional_login)]


def _user_id(user: Any) -> str:
    return str(user.get_id())


def _user_name(user: Any) -> str:
    try:
        return str(user.get_name())
    except Exception:
        return _user_id(user)


def _cross_site(request: Request) -> bool:
    """True for a form post from another site (CSRF): Airflow's cookie is SameSite=Lax, this double-checks."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        return True
    origin = request.headers.get("origin")
    if origin is None:
        return False
    allowed = {request.headers.get("host", ""), urlsplit(airflow_base_url()).netloc}
    return urlsplit(origin).netloc not in allowed - {""}


# -- responses ----------------------------------------------------------------------------------


def _message(status: int, title: str, text: str, *, kind: str = ACTION, **kwargs: Any) -> HTMLResponse:
    return HTMLResponse(
        render_message(title, text, kind=kind, page_path=_page_path(), airflow_url=_airflow_path(), **kwargs),
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    if exc.status_code in (401, 403) and AIRFLOW_VERSION < (3, 1):
        # Airflow 3.0 reads the login only from a bearer header (its UI keeps it in the browser's storage): a
        # page opened by a link never carries it, and sending it to the login page would loop.
        return _message(
            401,
            "This page needs Airflow 3.1 or later",
            "On Airflow 3.0 a page opened in the browser cannot carry your Airflow login. Authorize with the "
            "orangelogic_token_exchange DAG instead (README: the headless way).",
            kind="neutral",
        )
    if exc.status_code in (401, 403):  # from GetUserDep: no login, or an expired or invalid one
        from airflow.api_fastapi.app import get_auth_manager

        login_url = get_auth_manager().get_url_login(next_url=_page_path())
        if request.method == "GET":
            return RedirectResponse(login_url, status_code=303)
        return _message(
            401,
            "Sign in to Airflow",
            "This page needs your Airflow login, and this request did not carry a valid one (expired?). Sign in "
            "and try again.",
            kind="neutral",
            link=(login_url, "Sign in to Airflow"),
        )
    return _message(exc.status_code, "Request refused", str(exc.detail))


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


# -- the page -----------------------------------------------------------------------------------


def orangelogic_conn_ids() -> list[str]:
    from airflow_provider_orangelogic.status import orangelogic_conn_ids as conn_ids

    return conn_ids()


def _hook(conn_id: str) -> Any:
    from airflow_provider_orangelogic.hooks.orangelogic import OrangeLogicHook

    return OrangeLogicHook(conn_id)


def connection_view(conn_id: str, user: Any, request: Request) -> ConnectionView | None:
    """What the page shows of one connection, or None when the user may not read it."""
    if not may(user, "GET", conn_id):
        return None
    view = ConnectionView(conn_id, may_edit=may(user, "PUT", conn_id))
    hook = _hook(conn_id)
    try:
        settings = hook.settings
    except (OrangeLogicError, AirflowNotFoundException) as err:
        view.verdict, view.headline, view.problem = ACTION, "Connection needs fixing", str(err)
        return view
    view.host, view.client_id, view.auth_mode = settings.base_url, settings.client_id or "", settings.auth_mode
    if settings.auth_mode == BEARER_TOKEN:
        view.client_id = ""  # unused in this mode; the token itself is the Password and never shown
    if settings.auth_mode == AUTHORIZATION_CODE:
        view.can_authorize = True
        view.redirect_uri, view.redirect_problem = redirect_uri_for(settings, request)
    try:
        status = hook.token_status()
    except TokenStoreError as err:
        if settings.auth_mode == AUTHORIZATION_CODE and _nothing_stored(hook):
            view.verdict, view.headline = ACTION, "Not authorized yet"
            view.problem = "No token pair is stored yet: press Authorize."
        else:
            view.verdict, view.headline, view.problem = ACTION, "Token pair unusable", str(err)
        return view
    except OrangeLogicError as err:
        view.verdict, view.headline, view.problem = ACTION, "Error", str(err)
        return view
    view.status = status
    view.verdict, view.headline, view.problem = _verdict(settings.auth_mode, status)
    return view


def _nothing_stored(hook: Any) -> bool:
    try:
        return hook.token_store.load() is None
    except Exception:
        return False


def _verdict(auth_mode: str, status: dict[str, Any]) -> tuple[str, str, str]:
    if auth_mode == BEARER_TOKEN:
        return OK, "Fixed bearer token", ""
    if auth_mode == CLIENT_CREDENTIALS:
        if status.get("note"):
            return NEUTRAL, "No token yet", "The first task (or Test) gets one with the client ID and secret."
        if not status.get("access_token_valid"):
            return NEUTRAL, "Renewed on next use", ""
        return OK, "Access token valid", ""
    if not status.get("refresh_token_valid", True):
        return ACTION, "Re-authorization needed", "The refresh token expired: press Re-authorize."
    if not status.get("access_token_valid"):
        return DUE, "Access token expired", "The refresh DAG (orangelogic_token_refresh) renews it."
    if status.get("needs_refresh"):
        return DUE, "Due for refresh", "The refresh DAG renews it on its next run."
    return OK, "Authorized", ""


@router.get("/", response_class=HTMLResponse)
def page(request: Request, user: GetUserDep, authorized: str | None = None) -> Response:
    views = [view for conn_id in orangelogic_conn_ids() if (view := connection_view(conn_id, user, request))]
    banner = None
    if authorized:
        banner = _authorized_banner(authorized, views)
    html = render_page(
        views,
        banner=banner,
        user_name=_user_name(user),
        page_path=_page_path(),
        airflow_url=_airflow_path(),
        callback_uri=callback_uri(request),
    )
    return _no_store(HTMLResponse(html))


def _authorized_banner(conn_id: str, views: list[ConnectionView]) -> Banner | None:
    """The outcome of a callback, told from the stored pair itself (a crafted ?authorized= shows nothing new)."""
    view = next((view for view in views if view.conn_id == conn_id), None)
    status = view.status if view else {}
    if not status.get("obtained_at") or status.get("obtained_by") != AUTHORIZATION_CODE:
        return None
    return Banner(
        OK,
        f"{conn_id} is authorized",
        f"New token pair stored at {when(status['obtained_at'])}: the access token expires at "
        f"{when(status.get('access_token_expires_at'))} (in {time_left(status.get('access_token_seconds_left'))}), "
        f"the refresh token at {when(status.get('refresh_token_expires_at'))} "
        f"(in {time_left(status.get('refresh_token_seconds_left'))}).",
        conn_id,
    )


# -- authorize, callback, test ------------------------------------------------------------------


@router.post("/authorize/{connection_id}")
def authorize(connection_id: str, request: Request, user: GetUserDep) -> Response:
    if _cross_site(request):
        return _message(403, "Request refused", "This form was posted from another site; nothing was started.")
    if not may(user, "PUT", connection_id):
        log.warning("User %s may not edit connection %s: authorization refused.", _user_name(user), connection_id)
        return _message(
            403,
            "Not allowed",
            f"Your Airflow user ({_user_name(user)}) may not edit the connection {connection_id}, so it may not "
            "authorize it. Nothing was started. Ask someone with edit permission on the connection.",
        )
    hook = _hook(connection_id)
    try:
        settings = hook.settings
    except AirflowNotFoundException:
        return _message(404, "No such connection", f"There is no connection {connection_id}; nothing was started.")
    except OrangeLogicError as err:
        return _message(400, "The connection needs fixing", str(err))
    if settings.auth_mode != AUTHORIZATION_CODE:
        return _message(
            400,
            "Nothing to authorize",
            f"The connection {connection_id} uses auth_mode {settings.auth_mode}, which needs no authorization by "
            "a person.",
        )
    redirect_uri, problem = redirect_uri_for(settings, request)
    if problem:
        return _message(400, "Redirect URI does not lead back here", problem)
    states: AuthorizationStates = request.app.state.orangelogic_states
    browser_key = request.cookies.get(BROWSER_COOKIE) or new_browser_key()
    state = states.start(
        conn_id=connection_id,
        user_id=_user_id(user),
        user_name=_user_name(user),
        host=settings.base_url,
        client_id=settings.client_id or "",
        redirect_uri=redirect_uri,
        browser_key=browser_key,
    )
    url = hook.get_authorization_url(state=state, redirect_uri=redirect_uri)
    log.info("Orange Logic authorization of %s started by %s.", connection_id, _user_name(user))
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        BROWSER_COOKIE,
        browser_key,
        max_age=STATE_LIFETIME,
        path=f"{_root_path()}{URL_PREFIX}",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https" or airflow_base_url().startswith("https://"),
    )
    return _no_store(response)


@router.get("/callback")
def callback(
    request: Request,
    login: OptionalLoginDep,
    code: str | None = None,
    state: str | None = None,
    error: str | None = None,
    error_description: str | None = None,
) -> Response:
    if code:
        mask_everywhere(code)  # before anything can log it (the access log is written after this request)
    states: AuthorizationStates = request.app.state.orangelogic_states
    browser_key = request.cookies.get(BROWSER_COOKIE)
    try:
        # Spent whatever follows: a refused or denied authorization cannot be completed later either.
        record = states.finish(state, browser_key)
    except StateRejected as rejected:
        log.warning("Orange Logic callback refused: %s state.", rejected.reason)
        return _message(
            400,
            "This authorization cannot be completed",
            f"{rejected} Nothing was exchanged. Open the {PAGE_NAME} page and press Authorize again.",
        )
    if error:
        # Shown only with a genuine state: a forged address must not put its text on this page.
        described = (error_description or "")[:_MAX_SHOWN].strip().rstrip(".")
        said = error[:_MAX_SHOWN] + (f": {described}" if described else "")
        log.warning("Orange Logic answered the authorization of %s with error=%s.", record.conn_id, error[:80])
        return _message(
            400,
            f"Orange Logic did not authorize {record.conn_id}",
            f"Orange Logic answered: {said}. "
            + ("The person declined the authorization. " if error == "access_denied" else "")
            + "Nothing was exchanged; the stored token pair, if any, is unchanged. Press Authorize again to retry.",
        )
    conn_id = record.conn_id
    if not code:
        return _message(400, "No authorization code", "Orange Logic sent the browser back without a code.")
    if login is not None and _user_id(login) != record.user_id:
        return _message(
            403,
            "Another Airflow user",
            f"This authorization of {conn_id} was started by {record.user_name}, but this browser is signed in to "
            f"Airflow as {_user_name(login)}. Nothing was exchanged.",
        )
    if login is not None and not may(login, "PUT", conn_id):
        return _message(
            403, "Not allowed", f"Your Airflow user may no longer edit the connection {conn_id}. Nothing was exchanged."
        )
    hook = _hook(conn_id)
    try:
        settings = hook.settings
    except AirflowNotFoundException:
        return _message(
            404,
            "The connection is gone",
            f"The connection {conn_id} was deleted after Authorize was pressed. Nothing was exchanged.",
        )
    except OrangeLogicError as err:
        return _message(400, "The connection needs fixing", f"{err} Nothing was exchanged.")
    if (settings.auth_mode, settings.base_url, settings.client_id or "") != (
        AUTHORIZATION_CODE,
        record.host,
        record.client_id,
    ):
        return _message(
            409,
            "The connection changed",
            f"The connection {conn_id} changed (auth mode, Orange Logic URL or client ID) after Authorize was "
            "pressed, so this code belongs to the connection as it was. Nothing was exchanged; press Authorize "
            "again.",
        )
    try:
        # The state was checked above (authorizations.py: single use, this browser, this user, 10 minutes).
        hook.exchange_code(code, state_verified_by="the Orange Logic page")
    except OrangeLogicError as err:
        log.warning("Exchanging the authorization code of %s failed: %s", conn_id, type(err).__name__)
        return _message(502, "Orange Logic did not accept the code", f"{err}")
    log.info("Orange Logic connection %s authorized by %s.", conn_id, record.user_name)
    return _no_store(RedirectResponse(f"{_page_path()}?authorized={quote(conn_id)}#conn-{quote(conn_id)}", 303))


@router.post("/check/{connection_id}", response_class=HTMLResponse)
def check(connection_id: str, request: Request, user: GetUserDep) -> Response:
    if _cross_site(request):
        return _message(403, "Request refused", "This form was posted from another site; nothing was tested.")
    if not may(user, "PUT", connection_id):
        return _message(403, "Not allowed", f"Your Airflow user may not edit (or test) the connection {connection_id}.")
    ok, text = _hook(connection_id).test_connection()
    views = [view for conn_id in orangelogic_conn_ids() if (view := connection_view(conn_id, user, request))]
    title = f"Test of {connection_id}: {'passed' if ok else 'failed'}"
    banner = Banner(OK if ok else ACTION, title, text, connection_id)
    html = render_page(
        views,
        banner=banner,
        user_name=_user_name(user),
        page_path=_page_path(),
        airflow_url=_airflow_path(),
        callback_uri=callback_uri(request),
    )
    return _no_store(HTMLResponse(html))
