"""What a person reads when something needs them, in Airflow's words: the hook's advice and failure messages.

Kept apart from the hook so that the hook stays about wiring, and so that every message a person acts on
(an alert, the Test button, a failed task) is worded in one place.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from airflow_provider_orangelogic.core.errors import ConfigurationError, ReauthorizationRequired, TokenEndpointError
from airflow_provider_orangelogic.core.fields import BEARER_TOKEN
from airflow_provider_orangelogic.oauth.manager import Advice, utc_now
from airflow_provider_orangelogic.plugins import connection_page_url, page_url

if TYPE_CHECKING:
    from airflow_provider_orangelogic.hooks.orangelogic import OrangeLogicHook

# What a person does about the token pair, in Airflow's words.
AIRFLOW_ADVICE = Advice(
    authorize="Authorize once more: press Authorize on the Orange Logic page of the Airflow UI (Admin > Orange "
    "Logic, /orangelogic/ on the API server), or, headless, open the authorization URL "
    "(OrangeLogicHook.get_authorization_url()), approve, and run the orangelogic_token_exchange DAG with the whole "
    "address the browser landed on (it carries code and state).",
    keep_refreshing="Check that the orangelogic_token_refresh DAG is unpaused and succeeding, or set "
    "refresh_on_demand to true on the connection (safe on a single host only).",
)

BEARER_TOKEN_REJECTED = (
    "Orange Logic rejected the bearer token: it was probably revoked. Create a new one in Orange Logic and put it in "
    "the connection's Password."
)


def rejection_hint(auth_mode: str) -> str:
    """What a 401 from the API means, by auth mode (appended to the API error)."""
    if auth_mode == BEARER_TOKEN:
        return (
            " (the bearer token was rejected: it was probably revoked; create a new one in Orange Logic and put "
            "it in the connection's Password)"
        )
    return " (the access token was rejected)"


@contextlib.contextmanager
def refresh_failure_explained(hook: OrangeLogicHook) -> Iterator[None]:
    """Make a failed refresh's message the whole alert: what happened, since when, what to do, and where.

    The message of the exception is what ``on_failure_callback`` receives (``context["exception"]``), so
    it carries the stored pair's times (last renewal, refresh due since, expiry of both tokens) and the
    link to the connection on the Orange Logic page, where a person re-authorizes.
    """
    try:
        yield
    except (ReauthorizationRequired, TokenEndpointError) as err:
        conn_id = hook.orangelogic_conn_id
        gone = isinstance(err, ReauthorizationRequired)
        link = connection_page_url(conn_id)
        if gone:
            todo = f"Re-authorize {conn_id} at {link}"
        else:
            todo = (
                "The task retries by itself; consumers keep working while the access token is valid. Check that "
                f"{hook.settings.base_url} is up and reachable from the workers. If refreshing still fails when "
                f"the refresh token expires, a person must re-authorize at {link}"
            )
        # What matters first (an alert may show only the start), the details last.
        message = (
            f"Orange Logic connection {conn_id!r}: the token refresh failed at "
            f"{utc_now().to_iso8601_string()}{'; a person must authorize again' if gone else ''}. "
            f"{pair_times(hook)}{todo}. Details: {err}"
        )
        raise type(err)(
            message, oauth_error=err.oauth_error, description=err.description, status_code=err.status_code
        ) from None


def pair_times(hook: OrangeLogicHook) -> str:
    """The stored pair's times as a sentence ("" when there is none or it cannot be read)."""
    try:
        pair = hook.token_manager.read_if_any()
    except Exception:  # the message is being built for another failure: never hide that one
        return ""
    if pair is None:
        return ""
    due = pair.obtained_at.add(seconds=int(pair.access_lifetime * (1 - hook.settings.refresh_threshold)))
    when = "overdue since" if due <= utc_now() else "next due at"
    return (
        f"The stored pair was last renewed at {pair.obtained_at.to_iso8601_string()} (a refresh is {when} "
        f"{due.to_iso8601_string()}); its access token expires at "
        f"{pair.access_token_expires_at.to_iso8601_string()}, its refresh token at "
        f"{pair.refresh_token_expires_at.to_iso8601_string()}. "
    )


def authorization_hint(hook: OrangeLogicHook) -> str:
    """How to authorize again, with an authorization URL whose state is recorded (so it can be used as is)."""
    try:
        url = hook.get_authorization_url()
    except ConfigurationError:
        url = None
    except Exception as err:  # recording the state failed: a URL it would not accept is no help
        return (
            f"Press Re-authorize on the Orange Logic page ({page_url()}), or, headless, get an authorization URL "
            f"with OrangeLogicHook({hook.orangelogic_conn_id!r}).get_authorization_url() (recording its state "
            f"failed here: {type(err).__name__}), approve, and run the orangelogic_token_exchange DAG with the "
            "address the browser landed on."
        )
    if url is None:
        return (
            f"Press Re-authorize on the Orange Logic page ({page_url()}); for the headless way, set redirect_uri "
            "on the connection to get the authorization URL."
        )
    return (
        f"Press Re-authorize on the Orange Logic page ({page_url()}), or open the authorization URL, approve, "
        "and run the orangelogic_token_exchange DAG with the address the browser landed on (it carries code and "
        f"state; the state is good for {hook.issued_states.lifetime / 60:g} minutes). Authorization URL: {url}"
    )
