"""The rotation rules and what the page renders of them, each function alone (the browser suite drives the
whole of it: tests/ui/test_browser.py, test_rotating_the_webhook_secret_on_the_page)."""

from __future__ import annotations

import pytest

from airflow_provider_orangelogic.api.webhooks import parse_secrets
from airflow_provider_orangelogic.plugins.page import ConnectionView, render_new_secret, render_page
from airflow_provider_orangelogic.plugins.webhook_secrets import RotationRefused, new_secret, retired, rotated

OLD, OLDER = "o" * 40, "p" * 40


def test_a_new_secret_is_accepted_by_the_webhook_parser_and_unique():
    made = {new_secret() for _ in range(50)}
    assert len(made) == 50
    assert all(parse_secrets(secret) == (secret,) for secret in made)


def test_rotating_puts_the_new_secret_first_and_keeps_only_the_newest_old_one():
    assert rotated((), "n" * 40) == ("n" * 40,)
    assert rotated((OLD,), "n" * 40) == ("n" * 40, OLD)
    # Rotating again before retiring drops the oldest: the field never holds more than two.
    assert rotated(("m" * 40, OLDER), "n" * 40) == ("n" * 40, "m" * 40)


def test_retiring_keeps_the_newest_and_refuses_when_there_is_nothing_to_retire():
    assert retired(("n" * 40, OLD)) == ("n" * 40,)
    with pytest.raises(RotationRefused, match="no old secret to retire"):
        retired((OLD,))


def view(**changes) -> ConnectionView:
    fields = {"conn_id": "ol", "host": "https://dam.example.com", "auth_mode": "authorization_code"}
    return ConnectionView(**{**fields, **changes})


def test_the_buttons_follow_the_number_of_secrets_and_the_edit_permission():
    off = render_page([view(may_edit=True)])
    assert "Turn on webhooks" in off and "Retire the old secret" not in off
    one = render_page([view(may_edit=True, webhook_url="https://a/orangelogic/webhooks/ol", webhook_secrets=1)])
    assert "New webhook secret" in one and "1 secret valid" in one and "Retire the old secret" not in one
    two = render_page([view(may_edit=True, webhook_url="https://a/orangelogic/webhooks/ol", webhook_secrets=2)])
    assert "Retire the old secret" in two and "2 secrets valid while rotating" in two
    viewer = render_page([view(may_edit=False, webhook_url="https://a/orangelogic/webhooks/ol", webhook_secrets=2)])
    assert "webhook-secret/" not in viewer


def test_the_new_secret_page_escapes_what_it_shows():
    html = render_new_secret(
        "ol<x>", "s" * 43, webhook_url="https://a/orangelogic/webhooks/ol<x>", header="X-H", old_kept=True
    )
    assert "ol<x>" not in html and "ol&lt;x&gt;" in html
    assert "s" * 43 in html and "Retire the old secret" in html
