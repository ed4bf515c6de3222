"""The console shows only what the account may do, reads well at 1280 and 375 px, and
its API docs work with no network (headless Chromium, every request off this host blocked)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.web.conftest import CHROMIUM, SignIn, screenshot

pytestmark = pytest.mark.browser

if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is not installed; run scripts/setup.d/gate.sh", allow_module_level=True)

from playwright.sync_api import Browser, Page, Route, expect  # noqa: E402

PAGES = ["/", "/apps/new", "/apps/1", "/process", "/audit", "/admin/users"]
ACTIONS = "main form, main button, main input:not([type=hidden]), main select, main textarea"


@pytest.mark.parametrize("name", ["vic", "opr"])
def test_a_viewer_sees_no_action_on_any_page_and_the_api_refuses_each(as_user: SignIn, name: str) -> None:
    page = as_user(name)
    for path in PAGES:
        page.goto(path)
        expect(page.locator(ACTIONS), f"{path} offers an action").to_have_count(0)
    expect(page.locator("nav a[href='/apps/new'], nav a[href='/admin/users']")).to_have_count(0)
    page.goto("/apps/1")
    expect(page.locator("#decision")).to_contain_text("Only the review lead (lia) records the decision")
    token = page.request.get("/api/v1/me").json()["csrf_token"]
    refused = page.request.post(
        "/api/v1/applications/1/decisions",
        data={"outcome": "go", "rationale": "x"},
        headers={"X-CSRF-Token": token},
    )
    assert refused.status == 403 and f"{name} (viewer) may not decide" in refused.text()


def test_each_participant_sees_the_actions_of_their_role(as_user: SignIn) -> None:
    lead = as_user("lia")
    lead.goto("/apps/1")
    expect(lead.locator("#decision button")).to_have_text("Record decision")
    expect(lead.locator("#gate-work button")).to_have_text("Record deliverables and criteria")
    expect(lead.locator("#actions button", has_text="Mark done")).to_be_visible()
    maintainer = as_user("mai")
    maintainer.goto("/apps/1")
    expect(maintainer.locator("#gate-work button")).to_have_text("Record deliverables")
    expect(maintainer.locator("#decision form, #gate-work select")).to_have_count(0)
    expect(maintainer.locator("#actions button", has_text="Approve")).to_have_count(0)
    link = maintainer.locator("tr[data-deliverable=proposal] a")
    expect(link).to_have_attribute("href", "https://wiki.example/sample-db")
    member = as_user("mem")
    member.goto("/apps/1")
    expect(member.locator("#reviews form")).to_have_count(0)  # mem reviewed this round already


def test_the_add_user_form_has_no_privileged_default_and_errors_name_the_label(as_user: SignIn) -> None:
    admin = as_user("adm")
    admin.goto("/admin/users")
    form = admin.locator("#add-user")
    assert form.locator("select[name=role]").input_value() == ""
    assert form.locator("select[name=operations]").input_value() == ""
    form.locator("input[name=name]").fill("newcomer")
    form.locator("select[name=role]").select_option("qa")
    form.locator("select[name=operations]").select_option("operator")
    form.locator("input[name=password]").fill("long enough pass")
    form.locator("button").click()
    expect(admin.locator("tr[data-user=newcomer]")).to_contain_text("operator")
    admin.locator("tr[data-user=newcomer] button", has_text="Disable").click()
    expect(admin.locator("tr[data-user=newcomer]")).to_contain_text("disabled")
    admin.locator("tr[data-user=newcomer] button", has_text="Enable").click()
    admin.fill("tr[data-user=newcomer] input[name=password]", "another long pass")
    admin.locator("tr[data-user=newcomer] button", has_text="Reset password").click()
    expect(admin.locator("#error")).to_have_count(0)
    answer = admin.request.post(
        "/admin/users",
        form={
            "csrf": admin.locator("input[name=csrf]").first.input_value(),
            "name": "x",
            "role": "qa",
            "operations": "operator",
            "password": "short",
        },
    )
    assert answer.status == 422 and "Password: must be at least 8 characters" in answer.text()


def test_the_api_docs_render_with_every_request_off_this_host_blocked(browser: Browser, server: str) -> None:
    blocked: list[str] = []

    def local_only(route: Route) -> None:
        if urlparse(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    context = browser.new_context(base_url=server)
    context.route("**/*", local_only)
    page = context.new_page()
    page.goto("/api/v1/docs")
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/applications/{ref}/decisions")).to_be_visible()
    expect(page.locator(".opblock")).not_to_have_count(0)
    assert blocked == []
    context.close()


def _overflow(page: Page) -> int:
    width: int = page.evaluate("document.documentElement.scrollWidth")
    return width


@pytest.mark.parametrize("width", [1280, 375])
def test_main_pages_at_desktop_and_phone_width(as_user: SignIn, browser: Browser, server: str, width: int) -> None:
    context = browser.new_context(base_url=server, viewport={"width": width, "height": 800})
    anonymous = context.new_page()
    anonymous.goto("/login")
    screenshot(anonymous, f"login-{width}.png")
    assert _overflow(anonymous) <= width
    context.close()
    page = as_user("adm", width)
    too_wide = {}
    for path in [*PAGES, "/api/v1/docs"]:
        page.goto(path)
        name = path.strip("/").replace("/", "-") or "board"
        screenshot(page, f"{name}-{width}.png")
        if _overflow(page) > width:
            too_wide[path] = _overflow(page)
    assert too_wide == {}
    page.goto("/apps/1")
    picture = page.locator("#app-picture svg")
    assert (picture.bounding_box() or {"width": 0})["width"] >= 1400, "the picture keeps its size and scrolls"
    expect(picture.locator(".mark")).to_have_text(["▼ open gate"])
    names = picture.locator("text.name").first
    assert names.evaluate("n => n.getBoundingClientRect().height") >= 12, "names stay readable (13 px)"
