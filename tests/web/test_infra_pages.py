"""The Infrastructure Tool's pages in Chromium offer only what the account may do, and
read at 1280 and 375 px (screenshots kept as test artifacts)."""

from __future__ import annotations

import pytest

from tests.web.conftest import SignIn, screenshot

pytestmark = pytest.mark.browser
PAGES = ["/catalog", "/wizard?need=database+and+a+web+server", "/profiles", "/hosts", "/status", "/runs"]
CHANGES = "main form[method=post], main button:not(#ask button)"


def test_a_viewer_sees_no_action_and_an_operator_sees_them(as_user: SignIn) -> None:
    from playwright.sync_api import expect

    viewer = as_user("vic")
    for path in PAGES:
        viewer.goto(path)
        expect(viewer.locator(CHANGES), f"{path} offers a change").to_have_count(0)
    viewer.goto(PAGES[1])
    expect(viewer.locator("#no-save")).to_contain_text("needs the operator right")
    expect(viewer.locator("section[data-role=FOSSP-WDSNG]")).to_be_visible()  # reading is for everyone
    token = viewer.request.get("/api/v1/me").json()["csrf_token"]
    refused = viewer.request.post(
        "/api/v1/runs", data={"kind": "deploy", "hosts": ["db1"], "roles": ["nginx"]}, headers={"X-CSRF-Token": token}
    )
    assert refused.status == 403 and "vic (viewer) may not deploy" in refused.text()
    operator = as_user("opr")
    operator.goto(PAGES[1])
    expect(operator.locator("#save button[type=submit]")).to_have_text("Save profile")
    operator.goto("/hosts")
    expect(operator.locator("#add-host button[type=submit]")).to_have_text("Connect")


@pytest.mark.parametrize("width", [1280, 375])
def test_the_pages_fit_desktop_and_phone_width(as_user: SignIn, width: int) -> None:
    page = as_user("adm", width)
    too_wide = {}
    for path in PAGES:
        page.goto(path)
        screenshot(page, f"infra-{path.strip('/').split('?')[0]}-{width}.png")
        seen = page.evaluate("document.documentElement.scrollWidth")
        if seen > width:
            too_wide[path] = seen
    assert too_wide == {}
