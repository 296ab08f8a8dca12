"""The HTML of the Orange Logic page: plain functions of plain data, every value escaped.

Nothing here reads a connection or a Variable: ``app.py`` hands over ``ConnectionView`` objects built
from the connection's host and client ID and the hook's ``token_status()`` (expiry times, never a
token), so no secret can reach the page. Styled after Airflow 3's UI (its blue, its greys, system
fonts), readable from a 1280-pixel laptop screen up; no script, no external resource.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import pendulum

from airflow_provider_orangelogic.plugins import PAGE_NAME

# Verdicts, from the person's point of view.
OK = "ok"
DUE = "due"
ACTION = "action"
NEUTRAL = "neutral"


@dataclass
class ConnectionView:
    conn_id: str
    auth_mode: str = ""
    host: str = ""
    client_id: str = ""
    status: dict[str, Any] = field(default_factory=dict)
    verdict: str = NEUTRAL
    headline: str = ""
    problem: str = ""
    may_edit: bool = False
    #: The redirect URI this connection authorizes with; empty when it cannot use the page's callback.
    redirect_uri: str = ""
    redirect_problem: str = ""
    can_authorize: bool = False
    #: Where Orange Logic posts this connection's webhooks; empty when no webhook secret is set (webhooks off).
    webhook_url: str = ""
    #: How many webhook secrets are valid: 0 (webhooks off), 1, or 2 while rotating. Never the secrets.
    webhook_secrets: int = 0


@dataclass
class Banner:
    kind: str  # ok, action, neutral
    title: str
    text: str = ""
    conn_id: str = ""


def e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def time_left(seconds: float | int | None) -> str:
    if seconds is None:
        return ""
    seconds = int(seconds)
    if seconds <= 0:
        return "expired"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min" if minutes else "under a minute"


def when(iso: str | None) -> str:
    """``2026-01-31 09:30 UTC`` from an ISO 8601 time."""
    if not iso:
        return ""
    try:
        return pendulum.parse(iso).in_timezone("UTC").format("YYYY-MM-DD HH:mm [UTC]")
    except Exception:
        return iso


STYLE = """
:root { --blue: #017cee; --blue-dark: #0a5fb4; --ink: #1a202c; --muted: #5f6b7a; --line: #e2e8f0;
  --bg: #f4f6f8; --ok: #1e7e34; --ok-bg: #e6f4ea; --due: #8a5300; --due-bg: #fff4e0; --bad: #b42318;
  --bad-bg: #fdecea; --neutral-bg: #edf0f3; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 Inter, system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--ink); background: var(--bg); }
header { background: #fff; border-bottom: 1px solid var(--line); }
.bar { max-width: 1180px; margin: 0 auto; padding: 12px 24px; display: flex; align-items: center; gap: 16px; }
.bar .brand { font-weight: 700; font-size: 18px; color: var(--ink); text-decoration: none; }
.bar .brand span { color: var(--blue); }
.bar nav { margin-left: auto; display: flex; gap: 16px; align-items: center; color: var(--muted); font-size: 14px; }
a { color: var(--blue); }
main { max-width: 1180px; margin: 0 auto; padding: 24px; }
h1 { font-size: 24px; margin: 0 0 4px; }
.lead { color: var(--muted); margin: 0 0 20px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 18px 20px; margin: 0 0 16px; }
.card h2 { font-size: 18px; margin: 0; display: flex; align-items: center; gap: 10px; flex-wrap: wrap; }
.card h2 code { font-size: 17px; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(250px, 1fr)); gap: 4px 24px; margin: 14px 0 0; }
.grid div { min-width: 0; }
dt { color: var(--muted); font-size: 13px; margin-top: 8px; }
dd { margin: 0; overflow-wrap: anywhere; }
.left { color: var(--muted); }
.badge { display: inline-block; font-size: 13px; font-weight: 600; padding: 2px 10px; border-radius: 999px; }
.badge.ok { color: var(--ok); background: var(--ok-bg); }
.badge.due { color: var(--due); background: var(--due-bg); }
.badge.action { color: var(--bad); background: var(--bad-bg); }
.badge.neutral { color: var(--muted); background: var(--neutral-bg); }
.problem { margin: 12px 0 0; color: var(--bad); }
.note { margin: 12px 0 0; color: var(--muted); font-size: 14px; }
.actions { display: flex; gap: 10px; margin: 16px 0 0; flex-wrap: wrap; align-items: center; }
.actions form { margin: 0; }
button { font: inherit; font-weight: 600; border-radius: 6px; padding: 7px 16px; cursor: pointer;
  border: 1px solid var(--blue); background: var(--blue); color: #fff; }
button:hover { background: var(--blue-dark); }
button.secondary { background: #fff; color: var(--blue); }
button.secondary:hover { background: #eef5fd; }
button[disabled] { opacity: .5; cursor: not-allowed; }
.banner { border-radius: 8px; padding: 14px 18px; margin: 0 0 20px; border: 1px solid; }
.banner.ok { background: var(--ok-bg); border-color: #b7dfc3; }
.banner.action { background: var(--bad-bg); border-color: #f5c2bd; }
.banner.neutral, .banner.due { background: #eef5fd; border-color: #c5dcf5; }
.banner strong { display: block; margin-bottom: 2px; }
.register { background: #fff; border: 1px dashed var(--line); border-radius: 8px; padding: 12px 16px;
  margin: 0 0 20px; font-size: 14px; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13.5px;
  background: var(--neutral-bg); padding: 1px 5px; border-radius: 4px; }
.empty { color: var(--muted); }
"""


def layout(title: str, body: str, *, user_name: str = "", airflow_url: str = "/") -> str:
    who = f"<span>Signed in as <strong>{e(user_name)}</strong></span>" if user_name else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="same-origin">'
        f"<title>{e(title)} - Airflow</title><style>{STYLE}</style></head><body>"
        '<header><div class="bar">'
        f'<a class="brand" href="{e(airflow_url)}">Airflow <span>·</span> {e(PAGE_NAME)}</a>'
        f'<nav>{who}<a href="{e(airflow_url)}connections">Connections</a>'
        f'<a href="{e(airflow_url)}">Back to Airflow</a></nav>'
        "</div></header>"
        f"<main>{body}</main></body></html>"
    )


def _banner(banner: Banner | None) -> str:
    if banner is None:
        return ""
    text = f"<div>{e(banner.text)}</div>" if banner.text else ""
    return f'<div class="banner {e(banner.kind)}" role="status"><strong>{e(banner.title)}</strong>{text}</div>'


def _expiry(label: str, iso: str | None, seconds: Any) -> str:
    if not iso:
        return ""
    left = time_left(seconds)
    left_text = f' <span class="left">({"expired" if left == "expired" else "in " + left})</span>' if left else ""
    return f"<div><dt>{e(label)}</dt><dd>{e(when(iso))}{left_text}</dd></div>"


def _connection_card(view: ConnectionView, *, page_path: str) -> str:
    status = view.status
    not_set = '<span class="left">not set</span>'
    rows = [
        f"<div><dt>Orange Logic URL</dt><dd>{e(view.host) or not_set}</dd></div>",
        f"<div><dt>Client ID</dt><dd>{e(view.client_id) or not_set}</dd></div>",
        f"<div><dt>Auth mode</dt><dd><code>{e(view.auth_mode or 'unknown')}</code></dd></div>",
    ]
    rows.append(
        _expiry("Access token expires", status.get("access_token_expires_at"), status.get("access_token_seconds_left"))
    )
    if view.auth_mode == "authorization_code":
        rows.append(
            _expiry(
                "Refresh token expires",
                status.get("refresh_token_expires_at"),
                status.get("refresh_token_seconds_left"),
            )
        )
    if status.get("obtained_at"):
        rows.append(
            f"<div><dt>Obtained</dt><dd>{e(when(status.get('obtained_at')))} by "
            f"<code>{e(status.get('obtained_by'))}</code></dd></div>"
        )
    if status.get("token_variable"):
        rows.append(f"<div><dt>Stored in Variable</dt><dd><code>{e(status['token_variable'])}</code></dd></div>")
    if view.redirect_uri:
        rows.append(f"<div><dt>Redirect URI</dt><dd><code>{e(view.redirect_uri)}</code></dd></div>")
    if view.webhook_url:
        valid = "2 secrets valid while rotating" if view.webhook_secrets == 2 else "1 secret valid"
        rows.append(
            f"<div><dt>Webhook URL</dt><dd><code>{e(view.webhook_url)}</code> "
            f'<span class="left">({valid})</span></dd></div>'
        )
    style = "problem" if view.verdict == ACTION else "note"
    problem = f'<p class="{style}">{e(view.problem)}</p>' if view.problem else ""
    notes = []
    if view.redirect_problem:
        notes.append(f'<p class="problem">{e(view.redirect_problem)}</p>')
    actions = []
    conn = e(view.conn_id)
    if view.can_authorize:
        label = "Re-authorize" if status.get("obtained_at") else "Authorize"
        disabled = "" if view.may_edit and view.redirect_uri else " disabled"
        actions.append(
            f'<form method="post" action="{e(page_path)}authorize/{conn}">'
            f'<button type="submit" name="authorize" value="{conn}"{disabled}>{label}</button></form>'
        )
    if view.may_edit:
        actions.append(
            f'<form method="post" action="{e(page_path)}check/{conn}">'
            f'<button type="submit" class="secondary" name="check" value="{conn}">Test</button></form>'
        )
        actions.extend(_webhook_actions(view, page_path=page_path))
    else:
        notes.append(
            '<p class="note">You may view this connection but not edit it: Authorize and Test need edit '
            "permission on it.</p>"
        )
    if view.can_authorize and view.may_edit and view.redirect_uri and not status.get("obtained_at"):
        notes.append(
            '<p class="note">Authorize opens Orange Logic; after you approve there, you come back here and the '
            "new token pair is stored in Airflow.</p>"
        )
    actions_html = f'<div class="actions">{"".join(actions)}</div>' if actions else ""
    return (
        f'<section class="card" id="conn-{conn}" data-conn-id="{conn}">'
        f'<h2><code>{conn}</code> <span class="badge {e(view.verdict)}">{e(view.headline)}</span></h2>'
        f'<dl class="grid">{"".join(rows)}</dl>{problem}{"".join(notes)}{actions_html}</section>'
    )


def _webhook_actions(view: ConnectionView, *, page_path: str) -> list[str]:
    if view.problem and not view.host:  # the connection itself is unreadable: fix that first
        return []
    conn = e(view.conn_id)
    label = "New webhook secret" if view.webhook_secrets else "Turn on webhooks"
    actions = [
        f'<form method="post" action="{e(page_path)}webhook-secret/{conn}/new">'
        f'<button type="submit" class="secondary" name="webhook_secret" value="new">{label}</button></form>'
    ]
    if view.webhook_secrets == 2:
        actions.append(
            f'<form method="post" action="{e(page_path)}webhook-secret/{conn}/retire">'
            f'<button type="submit" class="secondary" name="webhook_secret" value="retire">Retire the old secret'
            "</button></form>"
        )
    return actions


def render_new_secret(
    conn_id: str,
    secret: str,
    *,
    webhook_url: str,
    header: str,
    old_kept: bool,
    page_path: str = "/orangelogic/",
    airflow_url: str = "/",
) -> str:
    """The one time a webhook secret is shown: right after it was made."""
    then = (
        "The previous secret stays valid, so deliveries keep arriving while you update the subscription. Once "
        "Orange Logic sends the new one, press Retire the old secret on the page."
        if old_kept
        else "Webhooks for this connection are now on."
    )
    body = (
        f'<div class="banner ok" role="status"><strong>New webhook secret for {e(conn_id)}</strong>'
        f"<div>Copy it now: this page shows it once, and Airflow never shows it again. {e(then)}</div></div>"
        '<section class="card" id="new-secret"><dl>'
        f"<dt>Webhook secret</dt><dd><code data-secret>{e(secret)}</code></dd>"
        f"<dt>Register on the Orange Logic webhook subscription</dt><dd>URL <code>{e(webhook_url)}</code>, with "
        f"the header <code>{e(header)}: &lt;the secret&gt;</code> (or, if the subscription cannot send "
        f"headers, the URL <code>{e(webhook_url)}?secret=&lt;the secret&gt;</code>).</dd>"
        "</dl></section>"
        f'<p><a href="{e(page_path)}#conn-{e(conn_id)}">Back to the {e(PAGE_NAME)} page</a></p>'
    )
    return layout(f"New webhook secret for {conn_id}", body, airflow_url=airflow_url)


def render_page(
    views: list[ConnectionView],
    *,
    banner: Banner | None = None,
    user_name: str = "",
    page_path: str = "/orangelogic/",
    airflow_url: str = "/",
    callback_uri: str = "",
) -> str:
    register = (
        '<div class="register">Redirect URI to register on the OAuth Client Application account in Orange Logic: '
        f"<code>{e(callback_uri)}</code></div>"
        if callback_uri
        else ""
    )
    cards = "".join(_connection_card(view, page_path=page_path) for view in views) or (
        '<p class="empty">No connection of type <code>orangelogic</code> that you may see. Create one under '
        f'<a href="{e(airflow_url)}connections">Admin &gt; Connections</a> (type Orange Logic).</p>'
    )
    body = (
        f"<h1>{e(PAGE_NAME)} connections</h1>"
        '<p class="lead">Token status of every Orange Logic connection, and the one-time authorization: '
        "press Authorize, approve in Orange Logic, done.</p>"
        f"{_banner(banner)}{register}{cards}"
    )
    return layout(f"{PAGE_NAME} connections", body, user_name=user_name, airflow_url=airflow_url)


def render_message(
    title: str,
    text: str,
    *,
    kind: str = "action",
    page_path: str = "/orangelogic/",
    airflow_url: str = "/",
    details: list[str] | None = None,
    link: tuple[str, str] | None = None,
) -> str:
    """A page of its own for what ends a flow: a refused state, a denied authorization, a missing login."""
    items = "".join(f"<li>{e(item)}</li>" for item in details or [])
    listing = f"<ul>{items}</ul>" if items else ""
    target, label = link or (page_path, f"Back to the {PAGE_NAME} page")
    body = (
        f'<div class="banner {e(kind)}" role="alert"><strong>{e(title)}</strong><div>{e(text)}</div>{listing}</div>'
        f'<p><a href="{e(target)}">{e(label)}</a></p>'
    )
    return layout(title, body, airflow_url=airflow_url)
