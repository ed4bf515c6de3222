"""The gate review flow in the web console, in a real headless Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.web.conftest import CHROMIUM, SignIn, screenshot

pytestmark = pytest.mark.browser

if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is not installed; run scripts/setup.d/gate.sh", allow_module_level=True)

from playwright.sync_api import Page, expect  # noqa: E402


def _propose(page: Page, name: str) -> None:
    page.goto("/apps/new")
    page.fill("input[name=name]", name)
    page.fill("textarea[name=summary]", f"{name} as the database server role")
    page.check("input[name=roles][value=FOSSP-DASPO]")
    page.click("main form button[type=submit]")
    expect(page.locator("h1")).to_contain_text(name)


def _decide(page: Page, outcome: str, rationale: str) -> None:
    page.select_option("#decision select[name=outcome]", outcome)
    page.fill("#decision textarea[name=rationale]", rationale)
    page.click("#decision button[type=submit]")


def test_sign_in_propose_review_decide_go(as_user: SignIn) -> None:
    lead = as_user("lia")
    _propose(lead, "PostgreSQL 16")
    app_url = lead.url
    lead.fill("input[name='reference.proposal']", "https://wiki/pg16")
    lead.select_option("select[name='met.fits-platform']", "yes")
    lead.click("#gate-work button[type=submit]")
    expect(lead.locator("tr[data-deliverable=proposal] a[href='https://wiki/pg16']")).to_be_visible()
    member = as_user("mem")
    member.goto(app_url)
    member.fill("#reviews textarea[name=findings]", "Fits the database role.")
    member.click("#reviews button[type=submit]")
    lead.goto(app_url)
    expect(lead.locator("#decision")).to_contain_text("Ready for a go")
    _decide(lead, "go", "Everything is in order.")
    expect(lead.locator("#phase")).to_have_text("Initiation")
    lead.goto("/")
    expect(lead.locator("section[data-phase=initiation]")).to_contain_text("PostgreSQL 16")
    expect(lead.locator("section[data-phase=proposed]")).not_to_contain_text("PostgreSQL 16")
    screenshot(lead, "flow-board.png")


def test_a_no_go_blocks(as_user: SignIn) -> None:
    lead = as_user("lia")
    _propose(lead, "Half-baked DB")
    lead.fill("#reviews textarea[name=findings]", "Nothing delivered yet.")
    lead.click("#reviews button[type=submit]")
    _decide(lead, "go", "Let us try.")
    expect(lead.locator("#error")).to_contain_text("go refused: deliverable 'proposal' is missing")
    expect(lead.locator("#phase")).to_have_text("Proposed")
    _decide(lead, "no-go", "Not ready for the platform.")
    expect(lead.locator("#state")).to_have_text("stopped")
    expect(lead.locator("#gate-work button, #reviews form, #decision form")).to_have_count(0)
    expect(lead.locator("#resume button")).to_have_text("Resume")


def test_a_maintainer_is_offered_no_decision_and_cannot_post_one(as_user: SignIn) -> None:
    maintainer = as_user("mai")
    _propose(maintainer, "Maintainer's DB")
    maintainer.fill("#reviews textarea[name=findings]", "I like it.")
    maintainer.click("#reviews button[type=submit]")
    expect(maintainer.locator("#decision form")).to_have_count(0)
    expect(maintainer.locator("#decision")).to_contain_text("Only the review lead (lia) records the decision")
    answer = maintainer.request.post(
        maintainer.url.split("#")[0] + "/decision",
        form={"csrf": maintainer.locator("input[name=csrf]").first.input_value(), "outcome": "go", "rationale": "x"},
    )
    assert answer.status == 403 and "may not decide" in answer.text()


def test_a_maintainer_of_another_app_is_offered_no_deliverable(as_user: SignIn) -> None:
    owner = as_user("mai")
    _propose(owner, "Mai's DB")
    expect(owner.locator("#maintainers")).to_contain_text("mai")
    other = as_user("ann")
    other.goto(owner.url)
    expect(other.locator("#gate-work input[name^=reference], #gate-work button")).to_have_count(0)
    answer = other.request.post(
        owner.url.split("#")[0] + "/gate",
        form={"csrf": other.locator("input[name=csrf]").first.input_value(), "reference.proposal": "https://x"},
    )
    assert answer.status == 403 and "ann does not maintain this application" in answer.text()


def test_the_process_picture_renders(as_user: SignIn) -> None:
    page = as_user("mem")
    page.goto("/process")
    picture = page.locator("#process-picture svg")
    expect(picture).to_be_visible()
    expect(picture.locator("g[id^=phase-]")).to_have_count(11)
    box = picture.bounding_box()
    assert box is not None and box["width"] > 800 and box["height"] > 250
    expect(picture).to_contain_text("Launch/Availability")
    screenshot(page, "flow-process.png")
