"""Rights over HTTP: every route of the OpenAPI description for anonymous, viewer,
operator and administrator; sign-in throttling; disabled accounts and reset passwords;
anonymous visits that write no session row."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from fossp.gate.db import open_database
from fossp.gate.models import WebSession
from fossp.gate.service import GateService
from fossp.gate.sessions import SessionInfo
from fossp.web.app import create_app
from fossp.web.rights import may, require
from fossp.web.throttle import Throttle, Throttled
from tests.gate.conftest import PASSWORD, PEOPLE, RIGHTS

ACCOUNTS = {"anonymous": None, "viewer": "vic", "operator": "opr", "administrator": "adm"}
READ = (401, 200, 200, 200)
GATE_WORK = (401, 403, 403, 403)  # the gate's own roles do this work, none of these four accounts
ACCOUNT_ADMIN = (401, 403, 403, 200)
OPERATE_CREATED = (401, 403, 201, 201)
OPERATE_UNREACHABLE = (401, 403, 400, 400)  # the right is there; nothing answers SSH on port 9
NOT_THERE = (401, 404, 404, 404)
# (method, path) -> expected status for anonymous, viewer, operator, administrator, and the body sent
EXPECTED: dict[tuple[str, str], tuple[tuple[int, int, int, int], dict[str, Any] | None]] = {
    ("post", "/api/v1/session"): (READ, None),  # the account's credentials (a wrong password for anonymous)
    ("delete", "/api/v1/session"): ((401, 204, 204, 204), None),
    ("get", "/api/v1/me"): (READ, None),
    ("get", "/api/v1/applications"): (READ, None),
    ("post", "/api/v1/applications"): (GATE_WORK, {"name": "X", "summary": "s", "roles": ["nginx"]}),
    ("get", "/api/v1/applications/{ref}"): (READ, None),
    ("put", "/api/v1/applications/{ref}/deliverables/{key}"): (GATE_WORK, {"reference": "https://x"}),
    ("put", "/api/v1/applications/{ref}/criteria/{key}"): (GATE_WORK, {"met": True}),
    ("post", "/api/v1/applications/{ref}/reviews"): (GATE_WORK, {"recommendation": "go", "findings": "x"}),
    ("post", "/api/v1/applications/{ref}/decisions"): (GATE_WORK, {"outcome": "go", "rationale": "x"}),
    ("post", "/api/v1/applications/{ref}/resume"): (GATE_WORK, None),
    ("post", "/api/v1/applications/{ref}/actions"): (GATE_WORK, {"title": "t", "owner": "mai", "due": "2030-01-01"}),
    ("post", "/api/v1/actions/{action_id}/done"): (GATE_WORK, None),
    ("post", "/api/v1/actions/{action_id}/approve"): (GATE_WORK, None),
    ("get", "/api/v1/applications/{ref}/maintainers"): (READ, None),
    ("post", "/api/v1/applications/{ref}/maintainers"): ((401, 403, 403, 201), {"user": "qa"}),
    ("delete", "/api/v1/applications/{ref}/maintainers/{name}"): (ACCOUNT_ADMIN, None),
    ("get", "/api/v1/audit"): (READ, None),
    ("get", "/api/v1/process"): (READ, None),
    ("get", "/api/v1/catalog-status"): (READ, None),
    ("get", "/api/v1/users"): (ACCOUNT_ADMIN, None),
    ("post", "/api/v1/users"): ((401, 403, 403, 201), {"name": "new", "role": "qa", "password": "long enough pass"}),
    ("post", "/api/v1/users/{name}/disable"): (ACCOUNT_ADMIN, None),
    ("post", "/api/v1/users/{name}/enable"): (ACCOUNT_ADMIN, None),
    ("put", "/api/v1/users/{name}/password"): (ACCOUNT_ADMIN, {"password": "another long pass"}),
    # the Infrastructure Tool (tests/web/test_infra_api.py has what each does)
    ("get", "/api/v1/catalog/roles"): (READ, None),
    ("get", "/api/v1/catalog/roles/{ref}"): (READ, None),
    ("get", "/api/v1/catalog/features"): (READ, None),
    ("post", "/api/v1/recommend"): (READ, {"wanted": ["web server"]}),
    ("get", "/api/v1/profiles"): (READ, None),
    ("post", "/api/v1/profiles"): (OPERATE_CREATED, {"name": "site", "wanted": ["web server"]}),
    ("get", "/api/v1/profiles/{name}"): (NOT_THERE, None),
    ("get", "/api/v1/hosts"): (READ, None),
    ("post", "/api/v1/hosts/scan"): (OPERATE_UNREACHABLE, {"address": "127.0.0.1", "port": 9}),
    ("post", "/api/v1/hosts"): (
        OPERATE_UNREACHABLE,
        {"name": "h", "address": "127.0.0.1", "port": 9, "fingerprint": "x"},
    ),
    ("get", "/api/v1/hosts/{name}"): (NOT_THERE, None),
    ("get", "/api/v1/hosts/{name}/facts"): (NOT_THERE, None),
    ("get", "/api/v1/hosts/{name}/platform"): (NOT_THERE, None),
    ("get", "/api/v1/hosts/{name}/status"): (NOT_THERE, None),
    ("get", "/api/v1/hosts/{name}/health"): (NOT_THERE, None),
    ("get", "/api/v1/status"): (READ, None),
    ("get", "/api/v1/runs"): (READ, None),
    ("post", "/api/v1/runs"): ((401, 403, 404, 404), {"kind": "deploy", "hosts": ["qa"], "roles": ["nginx"]}),
    ("get", "/api/v1/runs/{run_id}"): (NOT_THERE, None),
    ("get", "/api/v1/runs/{run_id}/events"): (NOT_THERE, None),
}


def _database(tmp_path: Path) -> GateService:
    gate = GateService(open_database(f"sqlite:///{tmp_path / 'gate.db'}"))
    for name, role in PEOPLE.items():
        gate.add_user(None, name, role, PASSWORD, RIGHTS.get(name, "viewer"))
    return gate


@pytest.fixture
def gate(tmp_path: Path) -> Iterator[GateService]:
    service = _database(tmp_path)
    yield service
    service.db.dispose()


def _operations(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """Every (method, path) of the description: signing in first, signing out last."""
    found = [(method, path) for path, item in spec["paths"].items() for method in item]
    return sorted(found, key=lambda op: {("post", "/api/v1/session"): 0, ("delete", "/api/v1/session"): 2}.get(op, 1))


def _path(path: str, ref: int, action_id: int) -> str:
    key = "proposal" if "/deliverables/" in path else "fits-platform"
    name = "ann" if "/maintainers/" in path else "qa"
    role = "postgresql" if path.startswith("/api/v1/catalog/") else ref
    return path.format(ref=role, key=key, action_id=action_id, name=name, run_id=999)


def _framed(answer: Any) -> bool:
    """A JSON answer starts with schema_version 1, as the CLI's documents (docs/json.md)."""
    if not answer.is_success or answer.headers.get("content-type") != "application/json":
        return True
    return list(answer.json())[:1] == ["schema_version"] and answer.json()["schema_version"] == 1


def test_every_route_of_the_openapi_description_for_each_kind_of_account(gate: GateService) -> None:
    gate.add_user(None, "ann", "maintainer", PASSWORD)
    app = gate.propose("mai", "Pg", "db", ["postgresql"], maintainers=["ann"])["id"]
    gate.deliver("mai", app, "proposal", "https://wiki/pg")
    action = gate.open_action("lia", app, "write docs", "mai", date(2030, 1, 1))["actions"][0]
    client = TestClient(create_app(gate.db.url))
    operations = _operations(client.app.openapi())  # type: ignore[attr-defined]
    assert set(operations) == set(EXPECTED), "a route without an expectation (or one that is gone)"
    wrong = []
    for column, (kind, name) in enumerate(ACCOUNTS.items()):
        http = TestClient(client.app)
        headers: dict[str, str] = {}
        for method, path in operations:
            statuses, body = EXPECTED[(method, path)]
            if path == "/api/v1/session" and method == "post":
                body = {"name": name or "adm", "password": PASSWORD if name else "wrong password"}
            elif body is not None and "name" in body:
                body = {**body, "name": f"new-{kind}"}
            answer = http.request(
                method, _path(path, app, action["id"]), json=body, headers=headers, follow_redirects=False
            )
            if "csrf_token" in (answer.json() if answer.content else {}):
                headers = {"X-CSRF-Token": answer.json()["csrf_token"]}
            if answer.status_code != statuses[column]:
                wrong.append(f"{kind} {method.upper()} {path}: {answer.status_code} {answer.text[:120]}")
            elif not _framed(answer):
                wrong.append(f"{kind} {method.upper()} {path}: no schema_version first: {answer.text[:120]}")
    assert wrong == []


def test_a_viewer_is_refused_every_gate_action_in_one_line_naming_the_right(gate: GateService) -> None:
    app = gate.propose("mai", "Pg", "db", ["postgresql"])["id"]
    client = TestClient(create_app(gate.db.url))
    token = client.post("/api/v1/session", json={"name": "vic", "password": PASSWORD}).json()["csrf_token"]
    refused = client.post(
        f"/api/v1/applications/{app}/reviews",
        json={"recommendation": "go", "findings": "x"},
        headers={"X-CSRF-Token": token},
    )
    assert refused.status_code == 403 and refused.json()["detail"] == "vic (viewer) may not review"
    users = client.get("/api/v1/users")
    assert users.status_code == 403 and "vic (viewer) may not manage-users" in users.json()["detail"]


def _info(name: str, role: str, operations: str) -> SessionInfo:
    return SessionInfo("t", "c", name, role, operations)


def test_may_answers_operations_by_right_and_gate_actions_by_role_and_application() -> None:
    viewer, operator, admin = (_info("x", "viewer", r) for r in ("viewer", "operator", "administrator"))
    assert [may(i, "deploy") for i in (viewer, operator, admin)] == [False, True, True]
    assert [may(i, "manage-users") for i in (viewer, operator, admin)] == [False, False, True]
    assert all(may(i, "read") for i in (viewer, operator, admin)) and not may(None, "read")
    app = {"lead": "lia", "maintainers": ["mai"]}
    assert may(_info("lia", "liaison", "viewer"), "decide", app)
    assert not may(_info("mem", "member", "viewer"), "decide", app)  # not the lead
    assert may(_info("mai", "maintainer", "viewer"), "deliver", app)
    assert not may(_info("ann", "maintainer", "viewer"), "deliver", app)  # not its maintainer
    with pytest.raises(ValueError, match="unknown action 'deploi'"):
        require("deploi")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_throttle_doubles_the_wait_after_the_free_failures() -> None:
    clock = Clock()
    throttle = Throttle(free=3, free_per_address=100, clock=clock)
    waits = []
    for _ in range(6):
        try:
            throttle.check("lia", "10.0.0.1")
        except Throttled as error:
            waits.append(error.retry_after)
            clock.now += error.retry_after
        throttle.failed("lia", "10.0.0.1")
    throttle.check("mem", "10.0.0.1")  # another account from the same address is not held up
    with pytest.raises(Throttled) as held:
        throttle.check("LIA ", "10.0.0.2")  # the account is held whatever the address and spelling
    assert waits == [1, 2] and held.value.retry_after == 4
    throttle.succeeded("lia")
    throttle.check("lia", "10.0.0.2")


def test_sign_in_answers_429_with_retry_after_per_account_and_per_address(gate: GateService) -> None:
    clock = Clock()
    client = TestClient(create_app(gate.db.url, throttle=Throttle(free=3, free_per_address=5, clock=clock)))
    bad = {"name": "lia", "password": "wrong password"}
    assert [client.post("/api/v1/session", json=bad).status_code for _ in range(4)] == [401] * 4
    held = client.post("/api/v1/session", json={"name": "lia", "password": PASSWORD})
    assert held.status_code == 429 and held.headers["Retry-After"] == "1"
    clock.now += 1
    assert client.post("/api/v1/session", json=bad).status_code == 401
    longer = client.post("/api/v1/session", json=bad)
    assert longer.status_code == 429 and longer.headers["Retry-After"] == "2"
    clock.now += 2
    assert client.post("/api/v1/session", json={"name": "mem", "password": "wrong"}).status_code == 401
    address = client.post("/api/v1/session", json={"name": "qa", "password": PASSWORD})
    assert address.status_code == 429, "seven failures from one address hold every account there"
    login = client.get("/login")
    token = login.text.split('name="csrf" value="')[1].split('"')[0]
    page = client.post("/login", data={"name": "qa", "password": PASSWORD, "csrf": token})
    assert page.status_code == 429 and "Retry-After" in page.headers and "too many failed sign-ins" in page.text
    clock.now += 3600.5
    assert client.post("/api/v1/session", json={"name": "lia", "password": PASSWORD}).status_code == 200


def _sessions(gate: GateService) -> int:
    with gate.db.sessions() as s:
        return s.scalar(select(func.count()).select_from(WebSession)) or 0


def test_anonymous_visits_write_no_session_row(gate: GateService) -> None:
    client = TestClient(create_app(gate.db.url))
    for path in ("/", "/login", "/process", "/process.svg", "/api/v1/docs", "/api/v1/openapi.json", "/api/v1/me"):
        client.get(path)
    login = client.get("/login")
    assert "fossp_session" not in login.headers.get("set-cookie", "")
    token = login.text.split('name="csrf" value="')[1].split('"')[0]
    assert client.post("/login", data={"name": "lia", "password": "wrong pass", "csrf": token}).status_code == 401
    assert client.post("/login", data={"name": "lia", "password": PASSWORD, "csrf": "forged"}).status_code == 403
    assert _sessions(gate) == 0
    token = client.get("/login").text.split('name="csrf" value="')[1].split('"')[0]
    assert client.post("/login", data={"name": "lia", "password": PASSWORD, "csrf": token}).status_code == 200
    assert _sessions(gate) == 1
    assert client.get("/login", follow_redirects=False).headers["location"] == "/"


def test_a_disabled_account_cannot_sign_in_and_a_reset_password_ends_old_sessions(gate: GateService) -> None:
    app = create_app(gate.db.url)
    admin, member = TestClient(app), TestClient(app)
    token = admin.post("/api/v1/session", json={"name": "adm", "password": PASSWORD}).json()["csrf_token"]
    headers = {"X-CSRF-Token": token}
    assert member.post("/api/v1/session", json={"name": "mem", "password": PASSWORD}).status_code == 200
    disabled = admin.post("/api/v1/users/mem/disable", headers=headers)
    assert disabled.status_code == 200 and disabled.json()["disabled"] is True
    assert member.get("/api/v1/me").status_code == 401, "the disabled account's session ended"
    refused = member.post("/api/v1/session", json={"name": "mem", "password": PASSWORD})
    assert refused.status_code == 403 and "disabled" in refused.json()["detail"]
    assert member.post("/api/v1/session", json={"name": "mem", "password": "wrong one"}).status_code == 401
    assert admin.post("/api/v1/users/adm/disable", headers=headers).status_code == 409
    assert admin.post("/api/v1/users/mem/enable", headers=headers).status_code == 200
    assert member.post("/api/v1/session", json={"name": "mem", "password": PASSWORD}).status_code == 200
    short = admin.put("/api/v1/users/mem/password", json={"password": "short"}, headers=headers)
    assert short.status_code == 422 and short.json()["detail"][0]["loc"] == ["body", "password"]
    reset = admin.put("/api/v1/users/mem/password", json={"password": "a brand new pass"}, headers=headers)
    assert reset.status_code == 200 and member.get("/api/v1/me").status_code == 401
    assert member.post("/api/v1/session", json={"name": "mem", "password": PASSWORD}).status_code == 401
    assert member.post("/api/v1/session", json={"name": "mem", "password": "a brand new pass"}).status_code == 200
    actions = [e["action"] for e in gate.audit()]
    assert {"user-disabled", "user-enabled", "password-reset"} <= set(actions)
    assert "a brand new pass" not in str(gate.audit())


def _page_token(client: TestClient, name: str) -> str:
    token = client.get("/login").text.split('name="csrf" value="')[1].split('"')[0]
    board = client.post("/login", data={"name": name, "password": PASSWORD, "csrf": token})
    return board.text.split('name="csrf" value="')[1].split('"')[0]


def test_a_page_form_error_names_the_field_as_the_form_labels_it(gate: GateService) -> None:
    app = gate.propose("mai", "Pg", "db", ["postgresql"])["id"]
    client = TestClient(create_app(gate.db.url))
    csrf = _page_token(client, "lia")
    missing = client.post(f"/apps/{app}/reviews", data={"csrf": csrf, "findings": "fine"})
    assert missing.status_code == 422 and "Your recommendation: field required" in missing.text
    empty = client.post(f"/apps/{app}/reviews", data={"csrf": csrf, "recommendation": "go", "findings": " "})
    assert empty.status_code == 422 and "Findings: must not be empty" in empty.text
    stale = client.post(f"/apps/{app}/reviews", data={"recommendation": "go", "findings": "fine"})
    assert stale.status_code == 403 and "reload the page" in stale.text
    recorded = client.post(
        f"/apps/{app}/gate",
        data={
            "csrf": csrf,
            "reference.proposal": "https://wiki/pg",
            "met.fits-platform": "yes",
            "note.fits-platform": "",
        },
        follow_redirects=False,
    )
    assert recorded.status_code == 303
    view = gate.show(app)["gate"]
    assert view["deliverables"][0]["reference"] == "https://wiki/pg" and view["criteria"][0]["met"] is True
    again = client.post(f"/apps/{app}/gate", data={"csrf": csrf, "reference.proposal": "https://wiki/pg"})
    assert again.status_code == 200 and [e["action"] for e in gate.audit(app)].count("deliverable") == 1
    wrong = client.post(f"/apps/{app}/gate", data={"csrf": csrf, "reference.nonsense": "x", "met.fits-platform": "no"})
    assert wrong.status_code == 422 and gate.show(app)["gate"]["criteria"][0]["met"] is True, "all or nothing"
