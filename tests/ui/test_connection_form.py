"""Airflow's own connection form for an Orange Logic connection, in a real browser (Airflow 3.2+ conn-fields).

What a person sees when adding one: the Authorization heading (Auth mode, Redirect URI) above Extra Fields,
the Redirect URI's help saying authorization_code mode needs it, and a Token request encoding drop-down
offering form and json only (no "null"). Screenshots in ``.screenshots/ui/``.
"""

from __future__ import annotations

import pytest

from airflow_provider_orangelogic.core import fields
from tests.ui.conftest import ADMIN, log_in

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def form(browser, ui_airflow):
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    log_in(page, ui_airflow, ADMIN, next_path="/connections")
    page.get_by_role("button", name="Add Connection").click()
    # react-select: its input sits over the placeholder; a click anywhere on the control focuses it.
    page.get_by_text("Select Connection Type").click(force=True)
    page.keyboard.type("Orange Logic")
    page.get_by_role("option", name="Orange Logic", exact=True).click()
    page.get_by_text(fields.AUTHORIZATION_SECTION).wait_for(timeout=30_000)
    yield page
    context.close()


def test_the_authorization_heading_comes_before_the_other_extra_fields(form, shots):
    headings = form.locator("[data-part='item-trigger']").all_inner_texts()
    names = [" ".join(text.split()) for text in headings]
    assert fields.AUTHORIZATION_SECTION in names and "Extra Fields" in names, names
    assert names.index(fields.AUTHORIZATION_SECTION) < names.index("Extra Fields"), names
    form.get_by_text(fields.AUTHORIZATION_SECTION).click()
    form.get_by_text("Needed by auth_mode authorization_code", exact=False).wait_for(timeout=10_000)
    assert "e.g. https://airflow.example.com/orangelogic/callback" in form.content()
    shots.take(form, "connection-form-authorization")


def test_the_encoding_drop_down_offers_form_and_json_only(form, shots):
    form.get_by_text("Extra Fields", exact=True).click()
    field = form.locator("#element_token_request_encoding")
    field.scroll_into_view_if_needed()
    assert "Select Value" in field.inner_text()  # nothing selected: saving leaves null, the default
    field.click()
    options = [" ".join(t.split()) for t in form.get_by_role("option").all_inner_texts()]
    shots.take(form, "connection-form-encoding")
    assert options == ["form (default): application/x-www-form-urlencoded", "json: application/json"], options
    assert not any(option == "null" for option in options)
