"""The REST API and the pages over HTTP, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from fossp.gate.service import GateService
from fossp.web.app import create_app
from tests.gate.conftest import PASSWORD


@pytest.fixture
def client(service: GateService) -> Iterator[TestClient]:
    with TestClient(create_app(service.db.url)) as http:
        yield http


def sign_in(client: TestClient, name: str) -> dict[str, str]:
    answer = client.post("/api/v1/session", json={"name": name, "password": PASSWORD})
    assert answer.status_code == 200
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    return {"X-CSRF-Token": answer.json()["csrf_token"]}


def test_full_gate_over_the_api(client: TestClient) -> None:
    headers = sign_in(client, "lia")
    created = client.post(
        "/api/v1/applications",
        json={"name": "BIND 9", "summary": "DNS", "roles": ["bind"]},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    app = created.json()["id"]
    assert (
        client.put(
            f"/api/v1/applications/{app}/deliverables/proposal", json={"reference": "https://x"}, headers=headers
        ).status_code
        == 200
    )
    client.put(f"/api/v1/applications/{app}/criteria/fits-platform", json={"met": True}, headers=headers)
    refused = client.post(
        f"/api/v1/applications/{app}/decisions", json={"outcome": "go", "rationale": "ok"}, headers=headers
    )
    assert refused.status_code == 409 and "no review yet" in refused.json()["detail"]
    client.post(f"/api/v1/applications/{app}/reviews", json={"recommendation": "go", "findings": "ok"}, headers=headers)
    refused = client.post(
        f"/api/v1/applications/{app}/decisions", json={"outcome": "go", "rationale": "ok"}, headers=headers
    )
    assert refused.status_code == 409 and "no review by member" in refused.json()["detail"]
    member = TestClient(client.app)
    client.post(
        f"/api/v1/applications/{app}/reviews",
        json={"recommendation": "go", "findings": "fine"},
        headers=sign_in(member, "mem"),
        cookies=member.cookies,
    )
    decided = client.post(
        f"/api/v1/applications/{app}/decisions", json={"outcome": "go", "rationale": "ok"}, headers=headers
    )
    assert decided.status_code == 201 and decided.json()["phase"] == "initiation"
    assert decided.json()["catalog_changes"] == [] and client.get("/api/v1/catalog-status").json()["roles"] == {}
    assert client.get("/api/v1/audit").json()["entries"][0]["action"] == "decided"


def test_bad_input_names_the_field_and_writes_nothing(client: TestClient) -> None:
    headers = sign_in(client, "mai")
    bad = client.post("/api/v1/applications", json={"name": "X", "summary": "y", "roles": []}, headers=headers)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "roles"]
    bad = client.post(
        "/api/v1/applications", json={"name": "X", "summary": "y", "roles": ["FOSSP-ZZSZZ"]}, headers=headers
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "roles"]
    assert client.get("/api/v1/applications").json() == {"schema_version": 1, "applications": []}


def test_rights_and_csrf(client: TestClient) -> None:
    assert client.get("/api/v1/applications").status_code == 401
    headers = sign_in(client, "mai")
    created = client.post(
        "/api/v1/applications", json={"name": "N", "summary": "s", "roles": ["nginx"]}, headers=headers
    )
    app = created.json()["id"]
    no_csrf = client.post(f"/api/v1/applications/{app}/reviews", json={"recommendation": "go", "findings": "x"})
    assert no_csrf.status_code == 403
    decided = client.post(
        f"/api/v1/applications/{app}/decisions", json={"outcome": "no-go", "rationale": "x"}, headers=headers
    )
    assert decided.status_code == 403
    viewer = TestClient(client.app)
    changed = viewer.post(
        f"/api/v1/applications/{app}/reviews",
        json={"recommendation": "go", "findings": "x"},
        headers=sign_in(viewer, "vic"),
    )
    assert changed.status_code == 403
    assert viewer.get(f"/api/v1/applications/{app}").status_code == 200


def test_wrong_password_and_openapi(client: TestClient) -> None:
    assert client.post("/api/v1/session", json={"name": "lia", "password": "nope"}).status_code == 401
    spec = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/applications/{ref}/decisions" in spec["paths"]


def test_pages_need_sign_in_and_csrf(client: TestClient) -> None:
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"
    login = client.get("/login")
    assert 'name="csrf"' in login.text
    forged = client.post("/login", data={"name": "lia", "password": PASSWORD, "csrf": "forged"})
    assert forged.status_code == 403
    csrf = login.text.split('name="csrf" value="')[1].split('"')[0]
    signed = client.post("/login", data={"name": "lia", "password": PASSWORD, "csrf": csrf})
    assert signed.status_code == 200 and "Applications by phase" in signed.text
    assert client.get("/process.svg").text.startswith("<svg")
    agenda = client.get("/agenda.ics?at=2030-01-07T15:00")
    assert "DTSTART:20300107T150000Z" in agenda.text and agenda.text.endswith("END:VCALENDAR\r\n")
    assert client.get("/agenda.md").text.startswith("# Server Working Group gate review")


def test_maintainers_over_the_api(client: TestClient, service: GateService) -> None:
    service.add_user(None, "ann", "maintainer", PASSWORD)
    mai = sign_in(client, "mai")
    app = client.post("/api/v1/applications", json={"name": "N", "summary": "s", "roles": ["nginx"]}, headers=mai)
    app_id = app.json()["id"]
    assert client.get(f"/api/v1/applications/{app_id}/maintainers").json()["maintainers"] == ["mai"]
    ann = TestClient(client.app)
    ann_headers = sign_in(ann, "ann")
    refused = ann.put(
        f"/api/v1/applications/{app_id}/deliverables/proposal", json={"reference": "x"}, headers=ann_headers
    )
    assert refused.status_code == 403 and "ann does not maintain" in refused.json()["detail"]
    assert (
        client.post(f"/api/v1/applications/{app_id}/maintainers", json={"user": "ann"}, headers=mai).status_code == 403
    )
    lead = TestClient(client.app)
    lead_headers = sign_in(lead, "lia")
    bad = lead.post(f"/api/v1/applications/{app_id}/maintainers", json={"user": "nobody"}, headers=lead_headers)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "user"]
    added = lead.post(f"/api/v1/applications/{app_id}/maintainers", json={"user": "ann"}, headers=lead_headers)
    assert added.status_code == 201 and added.json()["maintainers"] == ["ann", "mai"]
    provided = ann.put(
        f"/api/v1/applications/{app_id}/deliverables/proposal", json={"reference": "x"}, headers=ann_headers
    )
    assert provided.status_code == 200
    removed = lead.delete(f"/api/v1/applications/{app_id}/maintainers/mai", headers=lead_headers)
    assert removed.status_code == 200 and removed.json()["maintainers"] == ["ann"]
    last = lead.delete(f"/api/v1/applications/{app_id}/maintainers/ann", headers=lead_headers)
    assert last.status_code == 409 and "last maintainer" in last.json()["detail"]


def _page_sign_in(client: TestClient, name: str) -> str:
    """Sign in through the form; answer the session's CSRF token for the page forms."""
    login = client.get("/login")
    csrf = login.text.split('name="csrf" value="')[1].split('"')[0]
    assert client.post("/login", data={"name": name, "password": PASSWORD, "csrf": csrf}).status_code == 200
    return client.get("/").text.split('name="csrf" value="')[1].split('"')[0]


def test_the_admin_page_lists_and_adds_users(client: TestClient, service: GateService) -> None:
    csrf = _page_sign_in(client, "adm")
    page = client.get("/admin/users")
    assert page.status_code == 200 and 'data-user="lia"' in page.text and 'href="/admin/users"' in page.text
    assert '<option value="" selected disabled>choose the gate role' in page.text
    assert '<option value="" selected disabled>choose the operations right' in page.text
    form = {"name": "newbie", "role": "qa", "operations": "operator", "password": "long enough pass"}
    assert client.post("/admin/users", data={**form, "csrf": "forged"}).status_code == 403
    bad = client.post("/admin/users", data={**form, "role": "boss", "csrf": csrf})
    assert bad.status_code == 422 and "Gate role: &#39;boss&#39; is not one of" in bad.text
    unchosen = client.post("/admin/users", data={**form, "operations": "", "csrf": csrf})
    assert unchosen.status_code == 422 and "Operations right: &#39;&#39; is not one of" in unchosen.text
    short = client.post("/admin/users", data={**form, "password": "short", "csrf": csrf})
    assert short.status_code == 422 and "Password: must be at least 8 characters" in short.text
    assert "newbie" not in [u["name"] for u in service.users()]
    added = client.post("/admin/users", data={**form, "csrf": csrf}, follow_redirects=False)
    assert added.status_code == 303 and added.headers["location"] == "/admin/users"
    newbie_account = {"name": "newbie", "role": "qa", "operations": "operator", "can_sign_in": True, "disabled": False}
    assert newbie_account in service.users()
    assert client.post("/admin/users", data={**form, "csrf": csrf}).status_code == 409
    newbie = TestClient(client.app)
    assert newbie.post("/api/v1/session", json={"name": "newbie", "password": "long enough pass"}).status_code == 200
    member = TestClient(client.app)
    member_csrf = _page_sign_in(member, "mem")
    refused = member.get("/admin/users")
    assert refused.status_code == 403 and "may not manage-users" in refused.text
    assert 'href="/admin/users"' not in member.get("/").text
    sneaked = member.post("/admin/users", data={**form, "name": "mallory", "csrf": member_csrf})
    assert sneaked.status_code == 403 and "mallory" not in [u["name"] for u in service.users()]


def test_a_new_role_is_proposed_over_the_api(client: TestClient) -> None:
    headers = sign_in(client, "mai")
    body = {"name": "Intranet notice", "summary": "a notice page", "new_roles": ["FOSSP-WDSIN"]}
    created = client.post("/api/v1/applications", json=body, headers=headers)
    assert created.status_code == 201, created.text
    assert created.json()["catalog"] == [
        {"role_id": "FOSSP-WDSIN", "name": None, "new": True, "status": "not in the catalog"}
    ]
    taken = client.post(
        "/api/v1/applications", json={**body, "name": "Again", "new_roles": ["FOSSP-WDSNG"]}, headers=headers
    )
    [problem] = taken.json()["detail"]
    assert taken.status_code == 422 and problem["loc"] == ["body", "new_roles"]
    assert problem["msg"].startswith("FOSSP-WDSNG is in the catalog already")
