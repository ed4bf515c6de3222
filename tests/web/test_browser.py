"""The web console in a real headless Chromium (Debian's, no downloaded browser).

Set FOSSP_SCREENSHOTS=DIR to keep screenshots of the board and the process picture.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fossp.gate.db import open_database
from fossp.gate.service import GateService

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "correct horse battery"

if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is not installed; run scripts/setup.d/gate.sh", allow_module_level=True)

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def gate_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('web') / 'gate.db'}"


@pytest.fixture(scope="module")
def server(gate_url: str) -> Iterator[str]:
    """uvicorn serving `fossp serve`'s app on a free port, with four accounts."""
    import uvicorn

    from fossp.web.app import create_app

    url = gate_url
    gate = GateService(open_database(url))
    for name, role in (("lia", "liaison"), ("mem", "member"), ("mai", "maintainer"), ("ann", "maintainer")):
        gate.add_user(None, name, role, PASSWORD)
    port = _free_port()
    config = uvicorn.Config(create_app(url), host="127.0.0.1", port=port, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def as_user(browser: Browser, server: str) -> Iterator[object]:
    contexts = []

    def open_as(name: str) -> Page:
        context = browser.new_context(base_url=server, viewport={"width": 1400, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.goto("/login")
        page.fill("input[name=name]", name)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        expect(page.locator("#who")).to_contain_text(name)
        return page

    yield open_as
    for context in contexts:
        context.close()


def _shot(page: Page, name: str) -> None:
    folder = os.environ.get("FOSSP_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / name), full_page=True)


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


def test_sign_in_propose_review_decide_go(as_user: object) -> None:
    lead = as_user("lia")  # type: ignore[operator]
    _propose(lead, "PostgreSQL 16")
    app_url = lead.url
    lead.fill("tr[data-deliverable=proposal] input[name=reference]", "https://wiki/pg16")
    lead.click("tr[data-deliverable=proposal] button")
    lead.click("tr[data-criterion=fits-platform] button")
    member = as_user("mem")  # type: ignore[operator]
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
    _shot(lead, "board.png")


def test_a_no_go_blocks(as_user: object) -> None:
    lead = as_user("lia")  # type: ignore[operator]
    _propose(lead, "Half-baked DB")
    lead.fill("#reviews textarea[name=findings]", "Nothing delivered yet.")
    lead.click("#reviews button[type=submit]")
    _decide(lead, "go", "Let us try.")
    expect(lead.locator("#error")).to_contain_text("go refused: deliverable 'proposal' is missing")
    expect(lead.locator("#phase")).to_have_text("Proposed")
    _decide(lead, "no-go", "Not ready for the platform.")
    expect(lead.locator("#state")).to_have_text("stopped")
    lead.fill("tr[data-deliverable=proposal] input[name=reference]", "late")
    lead.click("tr[data-deliverable=proposal] button")
    expect(lead.locator("#error")).to_contain_text("stopped by a no-go")


def test_a_maintainer_cannot_decide(as_user: object) -> None:
    maintainer = as_user("mai")  # type: ignore[operator]
    _propose(maintainer, "Maintainer's DB")
    maintainer.fill("#reviews textarea[name=findings]", "I like it.")
    maintainer.click("#reviews button[type=submit]")
    with maintainer.expect_response(lambda r: r.request.method == "POST") as answer:
        _decide(maintainer, "go", "I decide myself.")
    assert answer.value.status == 403
    expect(maintainer.locator("#error")).to_contain_text("may not decide")


def test_a_maintainer_of_another_app_cannot_provide_a_deliverable(as_user: object) -> None:
    owner = as_user("mai")  # type: ignore[operator]
    _propose(owner, "Mai's DB")
    expect(owner.locator("#maintainers")).to_contain_text("mai")
    other = as_user("ann")  # type: ignore[operator]
    other.goto(owner.url)
    other.fill("tr[data-deliverable=proposal] input[name=reference]", "https://wiki/not-mine")
    with other.expect_response(lambda r: r.request.method == "POST") as answer:
        other.click("tr[data-deliverable=proposal] button")
    assert answer.value.status == 403
    expect(other.locator("#error")).to_contain_text("ann does not maintain this application")
    expect(other.locator("tr[data-deliverable=proposal] small")).to_have_count(0)


def test_the_process_picture_renders(as_user: object) -> None:
    page = as_user("mem")  # type: ignore[operator]
    page.goto("/process")
    picture = page.locator("#process-picture svg")
    expect(picture).to_be_visible()
    expect(picture.locator("g[id^=phase-]")).to_have_count(11)
    box = picture.bounding_box()
    assert box is not None and box["width"] > 800 and box["height"] > 250
    expect(picture).to_contain_text("Launch/Availability")
    _shot(page, "process.png")


def test_the_decision_form_says_what_a_go_changes_in_the_catalog(as_user: object, gate_url: str) -> None:
    from tests.gate.conftest import pass_gate

    gate = GateService(open_database(gate_url))
    for name, role in (("qa", "qa"), ("rel", "releng")):
        gate.add_user(None, name, role, None)
    app = gate.propose("mai", "WildFly 31", "WildFly as the Java application server", ["wildfly"])["id"]
    for _ in range(8):
        pass_gate(gate, app)
    lead = as_user("lia")  # type: ignore[operator]
    lead.goto(f"/apps/{app}")
    expect(lead.locator("[data-role-status=FOSSP-APSWI]")).to_have_text("preview")
    expect(lead.locator("#catalog-on-go")).to_contain_text("a go here launches FOSSP-APSWI wildfly (now preview)")
    launch = gate.show(app)["gate"]
    for item in launch["deliverables"]:
        gate.deliver("mai", app, item["key"], "https://docs.example/launch")
    for item in launch["criteria"]:
        gate.assess("mem", app, item["key"], True)
    for name in ("mem", "qa", "rel"):
        gate.review(name, app, "go", "validated")
    gate.db.dispose()
    lead.reload()
    _decide(lead, "go", "Validated on every family.")
    expect(lead.locator("#phase")).to_have_text("Launch/Availability")
    expect(lead.locator("[data-role-status=FOSSP-APSWI]")).to_have_text("launched")
    expect(lead.locator("#catalog-on-go")).to_contain_text("a go here leaves the catalog as it is")
