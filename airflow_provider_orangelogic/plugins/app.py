"""The FastAPI app of the Orange Logic page, mounted at ``/orangelogic`` on the API server.

Routes (docs/ui.md has the security model):

- ``GET /`` the page: every ``orangelogic`` connection the signed-in user may read, with its token status;
- ``POST /authorize/{connection_id}`` starts an authorization (edit permission on the connection needed)
  and redirects to Orange Logic with a fresh single-use state and this app's callback as redirect URI;
- ``GET /callback`` where Orange Logic sends the browser back: checks the state, exchanges the code
  through the hook (same protocol, same Variable as the exchange DAG) and lands on the page;
- ``POST /check/{connection_id}`` the connection's Test (``OrangeLogicHook.test_connection``) on the page;
- ``POST /webhook-secret/{connection_id}/new`` and ``/retire`` rotate the connection's webhook secret
  (``webhook_secrets.py``; edit permission on the connection needed), showing a new secret once;
- ``POST /webhooks/{connection_id}`` Orange Logic's webhooks (``webhooks.py``), authorized by the connection's
  webhook secret, not by a login.

Plugin apps get no authentication from Airflow: every route but the callback resolves the user with
Airflow's own ``GetUserDep`` (the session cookie or a bearer token, validated by the auth manager) and
asks the auth manager ``is_authorized_connection``, as Airflow's connection endpoints do. The callback
is authorized by its state (see ``authorizations.py``); when the browser also brings an Airflow login,
it must be the same user, still allowed to edit the connection.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from airflow.api_fastapi.core_api.security import GetUserDep
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from airflow_provider_orangelogic.api.webhooks import SECRET_HEADER
from airflow_provider_orangelogic.compat import AIRFLOW_VERSION, AirflowNotFoundException, mask_everywhere
from airflow_provider_orangelogic.core.errors import OrangeLogicError
from airflow_provider_orangelogic.core.fields import AUTHORIZATION_CODE
from airflow_provider_orangelogic.plugins import PAGE_NAME, URL_PREFIX, access, airflow_base_url, views, webhook_secrets
from airflow_provider_orangelogic.plugins.authorizations import (
    STATE_LIFETIME,
    AuthorizationStates,
    StateRejected,
    VariableStateBackend,
    new_browser_key,
)
from airflow_provider_orangelogic.plugins.page import (
    ACTION,
    OK,
    Banner,
    render_message,
    render_new_secret,
    render_page,
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
    # The one route without an Airflow login, authorized by each connection's webhook secret (docs/webhooks.md).
    from airflow_provider_orangelogic.plugins import webhooks

    webhooks.install_log_redaction()
    app.include_router(webhooks.router)
    return app


# -- responses ----------------------------------------------------------------------------------


def _message(status: int, title: str, text: str, *, kind: str = ACTION, **kwargs: Any) -> HTMLResponse:
    return HTMLResponse(
        render_message(title, text, kind=kind, page_path=views.page_path(), airflow_url=views.airflow_path(), **kwargs),
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

        login_url = get_auth_manager().get_url_login(next_url=views.page_path())
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


@router.get("/", response_class=HTMLResponse)
def page(request: Request, user: GetUserDep, authorized: str | None = None) -> Response:
    shown = [
        view for conn_id in views.orangelogic_conn_ids() if (view := views.connection_view(conn_id, user, request))
    ]
    banner = None
    if authorized:
        banner = views.authorized_banner(authorized, shown)
    html = render_page(
        shown,
        banner=banner,
        user_name=access.user_name(user),
        page_path=views.page_path(),
        airflow_url=views.airflow_path(),
        callback_uri=views.callback_uri(request),
    )
    return _no_store(HTMLResponse(html))


# -- authorize, callback, test ------------------------------------------------------------------


@router.post("/authorize/{connection_id}")
def authorize(connection_id: str, request: Request, user: GetUserDep) -> Response:
    if access.cross_site(request):
        return _message(403, "Request refused", "This form was posted from another site; nothing was started.")
    if not access.may(user, "PUT", connection_id):
        log.warning("User %s may not edit connection %s: authorization refused.", access.user_name(user), connection_id)
        return _message(
            403,
            "Not allowed",
            f"Your Airflow user ({access.user_name(user)}) may not edit the connection {connection_id}, so it may not "
            "authorize it. Nothing was started. Ask someone with edit permission on the connection.",
        )
    hook = views.hook_for(connection_id)
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
    redirect_uri, problem = views.redirect_uri_for(settings, request)
    if problem:
        return _message(400, "Redirect URI does not lead back here", problem)
    states: AuthorizationStates = request.app.state.orangelogic_states
    browser_key = request.cookies.get(BROWSER_COOKIE) or new_browser_key()
    state = states.start(
        conn_id=connection_id,
        user_id=access.user_id(user),
        user_name=access.user_name(user),
        host=settings.base_url,
        client_id=settings.client_id or "",
        redirect_uri=redirect_uri,
        browser_key=browser_key,
    )
    url = hook.get_authorization_url(state=state, redirect_uri=redirect_uri)
    log.info("Orange Logic authorization of %s started by %s.", connection_id, access.user_name(user))
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        BROWSER_COOKIE,
        browser_key,
        max_age=STATE_LIFETIME,
        path=f"{views.root_path()}{URL_PREFIX}",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https" or airflow_base_url().startswith("https://"),
    )
    return _no_store(response)


@router.get("/callback")
def callback(
    request: Request,
    login: access.OptionalLoginDep,
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
    if login is not None and access.user_id(login) != record.user_id:
        return _message(
            403,
            "Another Airflow user",
            f"This authorization of {conn_id} was started by {record.user_name}, but this browser is signed in to "
            f"Airflow as {access.user_name(login)}. Nothing was exchanged.",
        )
    if login is not None and not access.may(login, "PUT", conn_id):
        return _message(
            403, "Not allowed", f"Your Airflow user may no longer edit the connection {conn_id}. Nothing was exchanged."
        )
    hook = views.hook_for(conn_id)
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
    return _no_store(RedirectResponse(f"{views.page_path()}?authorized={quote(conn_id)}#conn-{quote(conn_id)}", 303))


@router.post("/check/{connection_id}", response_class=HTMLResponse)
def check(connection_id: str, request: Request, user: GetUserDep) -> Response:
    if access.cross_site(request):
        return _message(403, "Request refused", "This form was posted from another site; nothing was tested.")
    if not access.may(user, "PUT", connection_id):
        return _message(403, "Not allowed", f"Your Airflow user may not edit (or test) the connection {connection_id}.")
    ok, text = views.hook_for(connection_id).test_connection()
    title = f"Test of {connection_id}: {'passed' if ok else 'failed'}"
    return _page_with(Banner(OK if ok else ACTION, title, text, connection_id), user, request)


def _page_with(banner: Banner, user: Any, request: Request) -> Response:
    shown = [
        view for conn_id in views.orangelogic_conn_ids() if (view := views.connection_view(conn_id, user, request))
    ]
    html = render_page(
        shown,
        banner=banner,
        user_name=access.user_name(user),
        page_path=views.page_path(),
        airflow_url=views.airflow_path(),
        callback_uri=views.callback_uri(request),
    )
    return _no_store(HTMLResponse(html))


# -- the webhook secret -------------------------------------------------------------------------


@router.post("/webhook-secret/{connection_id}/{action}", response_class=HTMLResponse)
def webhook_secret(connection_id: str, action: str, request: Request, user: GetUserDep) -> Response:
    if action not in ("new", "retire"):
        return _message(404, "No such action", "The webhook secret can be renewed (new) or the old one retired.")
    if access.cross_site(request):
        return _message(403, "Request refused", "This form was posted from another site; nothing was changed.")
    if not access.may(user, "PUT", connection_id):
        return _message(
            403,
            "Not allowed",
            f"Your Airflow user ({access.user_name(user)}) may not edit the connection {connection_id}, so it may "
            "not change its webhook secret. Nothing was changed.",
        )

    def read_effective() -> str | None:
        return views.hook_for(connection_id).settings.webhook_secret

    try:
        if action == "retire":
            webhook_secrets.retire(connection_id, read_effective)
        else:
            secret, kept_old = webhook_secrets.rotate(connection_id, read_effective)
    except AirflowNotFoundException:
        return _message(404, "No such connection", f"There is no connection {connection_id}; nothing was changed.")
    except (OrangeLogicError, webhook_secrets.RotationRefused) as err:
        return _message(400, "The webhook secret was not changed", str(err))
    if action == "retire":
        log.info("Old webhook secret of %s retired by %s.", connection_id, access.user_name(user))
        text = "Only the new secret is accepted now; a delivery with the old one is refused (401)."
        banner = Banner(OK, f"Old webhook secret of {connection_id} retired", text, connection_id)
        return _page_with(banner, user, request)
    mask_everywhere(secret)  # this process's logs show *** should anything print it
    log.info("New webhook secret for %s made by %s.", connection_id, access.user_name(user))
    html = render_new_secret(
        connection_id,
        secret,
        webhook_url=views.webhook_url(connection_id, request),
        header=SECRET_HEADER,
        old_kept=kept_old,
        page_path=views.page_path(),
        airflow_url=views.airflow_path(),
    )
    return _no_store(HTMLResponse(html))
