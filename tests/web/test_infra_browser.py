"""The Infrastructure Tool in a real headless Chromium, deploying to a real lab host:
from a sentence to roles running, with each operation arriving on the page as it happens.

Screenshots of the wizard, the run and the host page are kept as test artifacts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fossp.gate.db import open_database
from fossp.gate.service import GateService
from fossp.lab import LabHost
from fossp.lab.repo import role_packages
from fossp.lab.testing import lab_fixture, ssh
from tests.web.conftest import CHROMIUM, PASSWORD, _free_port, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.lab]
if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is not installed; run scripts/setup.d/gate.sh", allow_module_level=True)

from playwright.sync_api import Browser, Page, expect  # noqa: E402

ROLES = ["postgresql", "nginx"]
lab_host = lab_fixture("in-a", packages=tuple(role_packages(ROLES)), scope="module")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """uvicorn serving `fossp serve`'s app, its folder and database new, with one administrator."""
    import uvicorn

    from fossp.web.app import create_app

    folder = tmp_path_factory.mktemp("infra-web")
    url = f"sqlite:///{folder / 'gate.db'}"
    GateService(open_database(url)).add_user(None, "ada", "admin", PASSWORD, "administrator")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FOSSP_WEB_DIR", str(folder / "web"))
        port = _free_port()
        uv = uvicorn.Server(uvicorn.Config(create_app(url), host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=uv.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not uv.started and time.monotonic() < deadline:
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
        uv.should_exit = True
        thread.join(timeout=10)


def _signed_in(browser: Browser, server: str, width: int) -> Page:
    page = browser.new_context(base_url=server, viewport={"width": width, "height": 900}).new_page()
    page.set_default_timeout(120_000)
    page.goto("/login")
    page.fill("input[name=name]", "ada")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("#who")).to_contain_text("ada")
    return page


def _lab_fingerprint(host: LabHost) -> str:
    """The fingerprint of the key the lab recorded for the host when it made it."""
    import asyncssh

    lines = [line.split() for line in host.known_hosts_path.read_text().splitlines()]
    key_type, key = next((line[1], line[2]) for line in lines if line[0] == host.address)
    return str(asyncssh.import_public_key(f"{key_type} {key}").get_fingerprint("sha256"))


def test_from_a_sentence_to_roles_running_on_a_lab_host(browser: Browser, server: str, lab_host: list[LabHost]) -> None:
    host = lab_host[0]
    page = _signed_in(browser, server, 1280)

    # the wizard: a sentence, the roles and the settings they take
    page.click("nav >> text=Choose roles")
    page.fill("textarea[name=need]", "database and a web server for our intranet")
    page.click("#ask button[type=submit]")
    expect(page.locator("#answer .understood")).to_contain_text("web server")
    expect(page.locator("section[data-role=FOSSP-DASPO]")).to_contain_text("PostgreSQL")
    expect(page.locator("section[data-role=FOSSP-WDSNG]")).to_contain_text("httpd")  # the alternative
    page.fill("input[name='set:FOSSP-WDSNG:welcome_text']", "Our intranet, served by FOSSP")
    page.fill("input[name='set:FOSSP-DASPO:database']", "intranet")
    page.fill("#save input[name=name]", "intranet")
    screenshot(page, "infra-wizard.png")
    page.click("#save button[type=submit]")
    expect(page.locator("section[data-profile=intranet]")).to_contain_text("FOSSP-WDSNG")

    # the host: its key confirmed before it is trusted
    page.click("nav >> text=Hosts")
    form = page.locator("#add-host")
    form.locator("input[name=name]").fill("in-a")
    form.locator("input[name=address]").fill(host.address)
    form.locator("input[name=user]").fill(host.ssh_user)
    form.locator("input[name=key]").fill(str(host.key_path))
    form.locator("button[type=submit]").click()
    expect(page.locator("#fingerprint")).to_have_text(_lab_fingerprint(host))
    page.click("#trust button[type=submit]")
    expect(page.locator("h1")).to_contain_text("in-a")
    expect(page.locator("#facts")).to_contain_text("Debian")
    expect(page.locator("#platform")).to_contain_text("pass")
    expect(page.locator("#roles")).to_contain_text("No FOSSP role on this host yet")

    # the deploy: each operation arrives while the run goes on
    page.select_option("#run select[name=profile]", "intranet")
    page.click("#run button[value=deploy]")
    expect(page.locator("#log li.live").first).to_be_visible()
    expect(page.locator("#state")).to_have_attribute("data-ended", "yes", timeout=900_000)
    arrived = page.locator("#log li.live").all_inner_texts()
    assert any("install-packages" in line or "write-file" in line for line in arrived), arrived
    assert any("verifying nginx" in line for line in arrived), arrived
    expect(page.locator("#state")).to_have_text("ok")
    screenshot(page, "infra-run.png")
    run_url = page.url

    # the host page: both roles running, their probes passing
    page.goto("/hosts/in-a")
    for role in ("FOSSP-DASPO", "FOSSP-WDSNG"):
        row = page.locator(f"#roles tr[data-role={role}]")
        expect(row.locator(".state")).to_have_text("running")
        expect(row.locator(".probes")).to_contain_text("passed")
        expect(row.locator(".probes")).not_to_contain_text("FAILED")
    screenshot(page, "infra-host.png")
    page.goto("/status")  # the fleet view: the same roles, their state and drift
    for role in ("FOSSP-DASPO", "FOSSP-WDSNG"):
        expect(page.locator(f"#fleet tr[data-host=in-a][data-role={role}] .state")).to_have_text("running")
    assert "Our intranet, served by FOSSP" in ssh(host, "cat", "/srv/www/fossp/index.html").stdout

    # the history keeps the run and its log
    page.goto("/runs")
    page.reload()
    row = page.locator("#history tr[data-run]").first
    expect(row).to_contain_text("deploy")
    expect(row.locator(".state")).to_have_text("ok")
    row.locator("a").click()
    assert page.url == run_url
    expect(page.locator("#log li").first).to_be_visible()
    assert page.locator("#log li").count() >= len(arrived)
    expect(page.locator("#result")).to_contain_text("probe")

    # drift: a file changed behind FOSSP's back is named on the host page
    ssh(host, "sed", "-i", "1i # edited by hand", "/srv/www/fossp/index.html")
    page.goto("/hosts/in-a")
    expect(page.locator("#roles tr[data-role=FOSSP-WDSNG]")).to_contain_text(
        "/srv/www/fossp/index.html changed since FOSSP wrote it"
    )

    # decommission one role: asked first, followed live, the other role untouched
    page.once("dialog", lambda dialog: dialog.accept())
    page.fill("#decommission input[name=roles]", "nginx")
    page.click("#decommission button[type=submit]")
    expect(page.locator("h1")).to_contain_text("Decommission")
    expect(page.locator("#state")).to_have_attribute("data-ended", "yes", timeout=600_000)
    expect(page.locator("#state")).to_have_text("ok")
    page.goto("/hosts/in-a")
    expect(page.locator("#roles tr[data-role=FOSSP-DASPO] .state")).to_have_text("running")
    expect(page.locator("#roles tr[data-role=FOSSP-WDSNG]")).to_have_count(0)
    _pages_at_desktop_and_phone_width(browser, server, run_url)


def _pages_at_desktop_and_phone_width(browser: Browser, server: str, run_url: str) -> None:
    """The Tool's pages, kept as screenshots at 1280 and 375 px, none wider than the screen."""
    paths = [
        "/catalog",
        "/wizard?need=database+and+a+web+server",
        "/profiles",
        "/hosts",
        "/hosts/in-a",
        "/status",
        "/runs",
    ]
    too_wide = {}
    for width in (1280, 375):
        page = _signed_in(browser, server, width)
        for path in [*paths, run_url.removeprefix(server)]:
            page.goto(path)
            screenshot(page, f"infra-{path.strip('/').split('?')[0].replace('/', '-')}-{width}.png")
            too_wide[(path, width)] = page.evaluate("document.documentElement.scrollWidth")
        page.context.close()
    assert {key: seen for key, seen in too_wide.items() if seen > key[1]} == {}
