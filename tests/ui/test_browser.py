"""The Orange Logic page in a real browser, against a real API server and the stand-in as Orange Logic.

One Airflow for the module; the tests run in file order and build on each other (the first authorizes
``ol_ui``; the replay needs its callback address). Each step's screenshot is in ``.screenshots/ui/``.
"""

from __future__ import annotations

import re
import secrets

import pytest
import requests

from airflow_provider_orangelogic.api.webhooks import SECRET_HEADER
from tests.ui.conftest import ADMIN, CLIENT_SECRET, ENV_WEBHOOK_SECRET, VIEWER, log_in, watch_callbacks

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def admin(browser, ui_airflow):
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    watch_callbacks(page, ui_airflow)
    yield page
    context.close()


def post_form(page, path: str) -> None:
    """The request a crafted form would send to ``path``, from the page's signed-in browser."""
    page.evaluate(
        """(path) => { const form = document.createElement('form'); form.method = 'post'; form.action = path;
                       document.body.appendChild(form); form.submit(); }""",
        path,
    )


def card(page, conn_id):
    return page.locator(f"section[data-conn-id='{conn_id}']")


def obtained(page, conn_id) -> str:
    """When and how the stored pair was obtained, as the page shows it."""
    return card(page, conn_id).locator("dt", has_text="Obtained").locator("xpath=following-sibling::dd").inner_text()


def assert_no_secret(page, world) -> None:
    html = page.content()
    for secret in [CLIENT_SECRET, *world.stand_in.issued_secrets()]:
        assert secret not in html


def test_sign_in_and_see_every_orangelogic_connection(admin, ui_airflow, shots):
    admin.goto(f"{ui_airflow.url}/orangelogic/")
    admin.get_by_label("Username").wait_for()
    assert "/auth/login" in admin.url  # the page sends a stranger to Airflow's login, and back
    shots.take(admin, "login")
    log_in(admin, ui_airflow, ADMIN)
    for conn_id in ("ol_ui", "ol_gone", "ol_machine"):
        assert card(admin, conn_id).is_visible()
    ol_ui = card(admin, "ol_ui")
    assert "Not authorized yet" in ol_ui.inner_text()
    assert ui_airflow.stand_in.url in ol_ui.inner_text() and "ui-client" in ol_ui.inner_text()
    assert ol_ui.get_by_role("button", name="Authorize").is_enabled()
    assert card(admin, "ol_machine").get_by_role("button", name="Authorize").count() == 0
    assert ui_airflow.callback_uri in admin.locator(".register").inner_text()
    assert_no_secret(admin, ui_airflow)
    shots.take(admin, "page-before-authorizing")


def test_the_admin_menu_links_to_the_page(admin, ui_airflow, shots):
    admin.goto(f"{ui_airflow.url}/")
    admin.get_by_role("button", name="Admin").click()
    link = admin.get_by_role("menuitem", name="Orange Logic")
    link.wait_for()
    assert link.get_attribute("href") == "/orangelogic/" and link.get_attribute("target") == "_blank"
    shots.take(admin, "admin-menu")


def test_authorize_stores_the_pair_and_shows_the_expiry(admin, ui_airflow, shots):
    before = ui_airflow.stand_in.counters()
    admin.goto(f"{ui_airflow.url}/orangelogic/")
    card(admin, "ol_ui").get_by_role("button", name="Authorize").click()
    admin.wait_for_url(re.compile(r".*/orangelogic/\?authorized=ol_ui.*"), timeout=60_000)
    banner = admin.locator(".banner.ok")
    assert "ol_ui is authorized" in banner.inner_text()
    assert re.search(r"access token expires at \d{4}-\d\d-\d\d \d\d:\d\d UTC \(in 23 h 59 min\)", banner.inner_text())
    text = card(admin, "ol_ui").inner_text()
    assert "Authorized" in text and "Refresh token expires" in text and "authorization_code" in text
    assert card(admin, "ol_ui").get_by_role("button", name="Re-authorize").is_visible()
    shots.take(admin, "authorized")
    after = ui_airflow.stand_in.counters()
    assert after["authorization_code_grants"] == before["authorization_code_grants"] + 1
    assert len(ui_airflow.callbacks) == 1 and "code=" in ui_airflow.callbacks[0]
    status = ui_airflow.token_status("ol_ui")  # the pair is in the Variable the hook and the DAGs read
    assert status["obtained_by"] == "authorization_code" and status["refresh_token_valid"]
    assert status["token_variable"] == "orangelogic_token_ol_ui"
    assert_no_secret(admin, ui_airflow)


def test_the_connection_list_test_button_finds_the_pair(admin, ui_airflow, shots):
    """Airflow 3.3's row Test sends port 0 (plugins/test_button.py) and tests under a temporary id."""
    admin.goto(f"{ui_airflow.url}/connections")
    row = admin.locator("tr", has_text="ol_ui")
    with admin.expect_response("**/api/v2/connections/test") as answer:
        row.get_by_role("button", name="Test Connection").click()
    assert answer.value.status == 200, answer.value.text()
    result = answer.value.json()
    assert result["status"] is True, result["message"]
    assert (
        "Looked in Airflow Variable 'orangelogic_token_ol_ui' (the pair of connection 'ol_ui'; Airflow ran "
        in (result["message"])
    )
    admin.wait_for_timeout(500)
    shots.take(admin, "connection-list-test-button")


def test_a_replayed_callback_exchanges_nothing(admin, ui_airflow, shots):
    before = ui_airflow.stand_in.counters()
    admin.goto(ui_airflow.callbacks[0])
    assert "already used" in admin.locator(".banner").inner_text()
    shots.take(admin, "replayed-callback")
    assert ui_airflow.stand_in.counters()["token_requests"] == before["token_requests"]


def test_a_forged_state_exchanges_nothing(admin, ui_airflow, shots):
    code = ui_airflow.stand_in.authorize(ui_airflow.callback_uri)  # a genuine code with a state never issued
    before = ui_airflow.stand_in.counters()
    admin.goto(f"{ui_airflow.callback_uri}?code={code}&state=forged-{'x' * 40}")
    banner = admin.locator(".banner").inner_text()
    assert "never issued by this Airflow" in banner and "Nothing was exchanged" in banner
    shots.take(admin, "forged-state")
    assert ui_airflow.stand_in.counters()["token_requests"] == before["token_requests"]


def test_access_denied_is_shown_plainly(admin, ui_airflow, shots):
    ui_airflow.stand_in.configure(deny_authorization=True)
    try:
        admin.goto(f"{ui_airflow.url}/orangelogic/")
        before = obtained(admin, "ol_ui")
        card(admin, "ol_ui").get_by_role("button", name="Re-authorize").click()
        admin.wait_for_url(re.compile(r".*/orangelogic/callback\?.*error=access_denied.*"), timeout=60_000)
    finally:
        ui_airflow.stand_in.configure(deny_authorization=False)
    banner = admin.locator(".banner").inner_text()
    assert "Orange Logic did not authorize ol_ui" in banner and "access_denied" in banner
    assert "The person declined the authorization" in banner and "unchanged" in banner
    shots.take(admin, "access-denied")
    admin.goto(f"{ui_airflow.url}/orangelogic/")
    assert obtained(admin, "ol_ui") == before  # the stored pair is untouched


def test_a_connection_deleted_meanwhile_exchanges_nothing(admin, ui_airflow, shots):
    consent: list[str] = []

    def hold(route):
        # Authorize's answer is the redirect to Orange Logic; keep the browser here (as if the person were still
        # reading Orange Logic's consent page) and remember where it was sent.
        answer = route.fetch(max_redirects=0)
        consent.append(answer.headers["location"])
        cookie = {"set-cookie": answer.headers["set-cookie"]} if "set-cookie" in answer.headers else {}
        route.fulfill(status=200, content_type="text/html", headers=cookie, body="<p>At Orange Logic...</p>")

    admin.goto(f"{ui_airflow.url}/orangelogic/")
    admin.route("**/orangelogic/authorize/ol_gone", hold)
    card(admin, "ol_gone").get_by_role("button", name="Authorize").click()
    admin.get_by_text("At Orange Logic...").wait_for()
    admin.unroute("**/orangelogic/authorize/ol_gone")
    ui_airflow.delete_connection("ol_gone")  # ...when someone deletes the connection
    before = ui_airflow.stand_in.counters()
    admin.goto(consent[0])  # the person approves: Orange Logic sends the browser back with a code
    admin.wait_for_url(re.compile(r".*/orangelogic/callback\?.*code=.*"))
    banner = admin.locator(".banner").inner_text()
    assert "The connection is gone" in banner and "Nothing was exchanged" in banner
    shots.take(admin, "deleted-connection")
    after = ui_airflow.stand_in.counters()
    assert after["codes_issued"] == before["codes_issued"] + 1 and after["token_requests"] == before["token_requests"]


def test_a_user_without_edit_permission_cannot_authorize(browser, ui_airflow, shots):
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    try:
        log_in(page, ui_airflow, VIEWER)
        assert page.locator("section.card").count() == 0  # a viewer may not even read connections
        shots.take(page, "viewer-page")
        before = ui_airflow.stand_in.counters()
        # The request a crafted form would send, from the viewer's signed-in browser.
        post_form(page, "/orangelogic/authorize/ol_ui")
        page.wait_for_url("**/orangelogic/authorize/ol_ui")
        banner = page.locator(".banner").inner_text()
        assert "may not edit the connection ol_ui" in banner and "Nothing was started" in banner
        shots.take(page, "viewer-refused")
        assert ui_airflow.stand_in.counters()["auth_requests"] == before["auth_requests"]
    finally:
        context.close()


def test_the_page_test_button(admin, ui_airflow, shots):
    admin.goto(f"{ui_airflow.url}/orangelogic/")
    card(admin, "ol_ui").get_by_role("button", name="Test").click()
    admin.wait_for_url("**/orangelogic/check/ol_ui")
    banner = admin.locator(".banner").inner_text()
    assert "Test of ol_ui: passed" in banner and "Looked in Airflow Variable 'orangelogic_token_ol_ui'" in banner
    shots.take(admin, "page-test-button")


def post_webhook(ui_airflow, conn_id: str, secret: str) -> requests.Response:
    """A delivery as Orange Logic sends it: answered 200 once past the secret (no DAG uses the asset here)."""
    event = {"EventID": f"evt-{secrets.token_hex(6)}", "EventType": "Asset.Created", "SystemIdentifier": "UI-1"}
    return requests.post(
        f"{ui_airflow.url}/orangelogic/webhooks/{conn_id}",
        json=event,
        headers={SECRET_HEADER: secret},
        timeout=60,
    )


def stored_secret_digest(ui_airflow, conn_id: str) -> str:
    """A digest of the connection's webhook_secret as stored in the metadata DB (the secret stays out of output)."""
    code = (
        "import hashlib, json\nfrom airflow.models.connection import Connection\n"
        "from airflow.utils.session import create_session\nwith create_session() as session:\n"
        f"    conn = session.query(Connection).filter_by(conn_id={conn_id!r}).one()\n"
        "    field = json.loads(conn.extra)['webhook_secret']\n"
        "print('RESULT=' + hashlib.sha256(field.encode()).hexdigest())"
    )
    out = ui_airflow.sandbox.python(code).stdout
    return [line for line in out.splitlines() if line.startswith("RESULT=")][-1][7:]


def test_rotating_the_webhook_secret_on_the_page(admin, ui_airflow, shots):
    old = secrets.token_urlsafe(32)
    ui_airflow.add_connection("ol_hooks", webhook_secret=old)
    admin.goto(f"{ui_airflow.url}/orangelogic/#conn-ol_hooks")
    hooks = card(admin, "ol_hooks")
    assert f"{ui_airflow.url}/orangelogic/webhooks/ol_hooks" in hooks.inner_text()
    assert "1 secret valid" in hooks.inner_text() and old not in admin.content()
    assert hooks.get_by_role("button", name="Retire the old secret").count() == 0
    shots.take(admin, "webhook-before-rotating")

    hooks.get_by_role("button", name="New webhook secret").click()
    admin.wait_for_url("**/orangelogic/webhook-secret/ol_hooks/new")
    new = admin.locator("[data-secret]").inner_text()
    assert len(new) >= 32 and new != old
    assert "shows it once" in admin.locator(".banner").inner_text()
    assert "X-OrangeLogic-Webhook-Secret" in admin.locator("#new-secret").inner_text()
    shots.take(admin, "webhook-new-secret-shown-once")
    # Both are valid while Orange Logic's subscription is being updated: no delivery is refused meanwhile.
    assert post_webhook(ui_airflow, "ol_hooks", new).status_code == 200
    assert post_webhook(ui_airflow, "ol_hooks", old).status_code == 200

    admin.goto(f"{ui_airflow.url}/orangelogic/#conn-ol_hooks")
    hooks = card(admin, "ol_hooks")
    assert "2 secrets valid while rotating" in hooks.inner_text()
    assert new not in admin.content() and old not in admin.content()  # shown once, never again
    shots.take(admin, "webhook-rotating")
    hooks.get_by_role("button", name="Retire the old secret").click()
    admin.wait_for_url("**/orangelogic/webhook-secret/ol_hooks/retire")
    assert "Old webhook secret of ol_hooks retired" in admin.locator(".banner").inner_text()
    assert "1 secret valid" in card(admin, "ol_hooks").inner_text()
    shots.take(admin, "webhook-old-secret-retired")
    assert post_webhook(ui_airflow, "ol_hooks", old).status_code == 401
    assert post_webhook(ui_airflow, "ol_hooks", new).status_code == 200
    logs = ui_airflow.api_server.log_path.read_text(errors="replace")
    assert old not in logs and new not in logs


def test_a_viewer_cannot_rotate_the_webhook_secret(browser, ui_airflow, shots):
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    try:
        log_in(page, ui_airflow, VIEWER)
        before = stored_secret_digest(ui_airflow, "ol_hooks")
        post_form(page, "/orangelogic/webhook-secret/ol_hooks/new")
        page.wait_for_url("**/orangelogic/webhook-secret/ol_hooks/new")
        banner = page.locator(".banner").inner_text()
        assert "may not edit the connection ol_hooks" in banner and "Nothing was changed" in banner
        assert page.locator("[data-secret]").count() == 0
        shots.take(page, "viewer-rotation-refused")
        assert stored_secret_digest(ui_airflow, "ol_hooks") == before
    finally:
        context.close()


def test_a_connection_defined_in_the_environment_is_not_rotated(admin, ui_airflow, shots):
    # ol_env is defined by AIRFLOW_CONN_OL_ENV, which wins over the metadata DB; a DB copy with the same secret
    # would take a write that never takes effect.
    ui_airflow.add_connection("ol_env", webhook_secret=ENV_WEBHOOK_SECRET)
    before = stored_secret_digest(ui_airflow, "ol_env")
    admin.goto(f"{ui_airflow.url}/orangelogic/")
    post_form(admin, "/orangelogic/webhook-secret/ol_env/new")
    admin.wait_for_url("**/orangelogic/webhook-secret/ol_env/new")
    banner = admin.locator(".banner").inner_text()
    assert "defined outside Airflow's metadata DB" in banner and "Nothing was changed" in banner
    assert admin.locator("[data-secret]").count() == 0
    shots.take(admin, "webhook-env-connection-refused")
    assert stored_secret_digest(ui_airflow, "ol_env") == before
    assert post_webhook(ui_airflow, "ol_env", ENV_WEBHOOK_SECRET).status_code == 200


def test_no_code_in_logs_or_the_metadata_db(ui_airflow):
    codes = [s for s in ui_airflow.stand_in.issued_secrets()]
    logs = ui_airflow.api_server.log_path.read_text(errors="replace")
    assert "/orangelogic/callback" in logs  # the callbacks were logged, with the code masked
    db = (ui_airflow.sandbox.home / "airflow.db").read_bytes()
    for secret in [CLIENT_SECRET, *codes]:
        assert secret not in logs
        assert secret.encode() not in db
