"""The Infrastructure Tool's REST API: every route typed in the OpenAPI description, closed
to anonymous callers, and doing what the CLI does (real database, real SSH server)."""

from __future__ import annotations

from collections.abc import Callable
from html import unescape
from pathlib import Path

import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.web.conftest import SshServer

Client = Callable[..., TestClient]
ROUTES = [
    ("get", "/api/v1/catalog/roles"),
    ("get", "/api/v1/catalog/roles/postgresql"),
    ("get", "/api/v1/catalog/features"),
    ("post", "/api/v1/recommend"),
    ("get", "/api/v1/profiles"),
    ("post", "/api/v1/profiles"),
    ("get", "/api/v1/profiles/site"),
    ("get", "/api/v1/hosts"),
    ("post", "/api/v1/hosts"),
    ("post", "/api/v1/hosts/scan"),
    ("get", "/api/v1/hosts/db1"),
    ("get", "/api/v1/hosts/db1/facts"),
    ("get", "/api/v1/hosts/db1/platform"),
    ("get", "/api/v1/hosts/db1/status"),
    ("get", "/api/v1/hosts/db1/health"),
    ("get", "/api/v1/status"),
    ("get", "/api/v1/runs"),
    ("post", "/api/v1/runs"),
    ("get", "/api/v1/runs/1"),
    ("get", "/api/v1/runs/1/events"),
]


def _infra_paths(app: FastAPI) -> set[tuple[str, str]]:
    spec = TestClient(app).get("/api/v1/openapi.json").json()
    return {
        (method, path)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if "infrastructure" in operation.get("tags", [])
    }


def test_every_route_is_described_typed_and_closed_to_anonymous_callers(web_app: FastAPI) -> None:
    spec = TestClient(web_app).get("/api/v1/openapi.json").json()
    described = _infra_paths(web_app)
    assert len(described) == len(ROUTES)
    for method, path in described:
        answer = spec["paths"][path][method]["responses"]
        ok = next(code for code in answer if code.startswith("2"))
        content = answer[ok].get("content", {})
        assert "text/event-stream" in content or "$ref" in str(content), f"{method} {path} has no typed answer"
    anonymous = TestClient(web_app)
    for method, path in ROUTES:
        answer = anonymous.request(method, path, json={})
        assert answer.status_code == 401, f"{method} {path}: {answer.status_code}"
        assert answer.json() == {"detail": "sign in first (POST /api/v1/session)"}


def test_every_answer_described_is_a_document_with_schema_version_first(web_app: FastAPI) -> None:
    """As the CLI's --json documents (docs/json.md): every route of the description, gate
    and Infrastructure Tool alike, answers a typed object whose first field is schema_version."""
    spec = TestClient(web_app).get("/api/v1/openapi.json").json()
    schemas, untyped = spec["components"]["schemas"], []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            ok = next(code for code in operation["responses"] if code.startswith("2"))
            content = operation["responses"][ok].get("content", {})
            if ok == "204" or "text/event-stream" in content:
                continue
            ref = content.get("application/json", {}).get("schema", {}).get("$ref", "")
            schema = schemas.get(ref.rsplit("/", 1)[-1], {})
            first = next(iter(schema.get("properties", {})), None)
            if (
                first != "schema_version"
                or schema["properties"][first].get("const") != 1
                or first not in schema.get("required", [])
            ):
                untyped.append(f"{method} {path}: {ref or content}")
    assert untyped == []


def test_the_facts_summary_takes_what_a_real_host_reports() -> None:
    """The facts a host gives (every field of the engine's Facts) make the API's summary."""
    from fossp.hosts.facts import Facts
    from fossp.web.infra_api import facts_out

    facts = Facts(host="db1", hostname="db1", packages={"bash": "5.2"}, root_fs="btrfs", tools=["dnf"])
    summary = facts_out(facts.model_dump(mode="json", exclude={"files", "state_json", "upgrade_json"}))
    assert (summary.schema_version, summary.packages, summary.root_fs) == (1, 1, "btrfs")


def test_the_catalog_says_what_deploys(signed_in: Client) -> None:
    api = signed_in()
    roles = {r["id"]: r for r in api.get("/api/v1/catalog/roles").json()["roles"]}
    assert roles["FOSSP-DASPO"]["status"] == "launched"
    assert roles["FOSSP-DASPO"]["deploys_on"] == ["fedora", "debian"]
    undeployable = [r for r in roles.values() if not r["deploys_on"]]
    assert undeployable and all(r["deploy_problem"] for r in undeployable)
    assert api.get("/api/v1/catalog/roles/nginx").json()["id"] == "FOSSP-WDSNG"
    assert api.get("/api/v1/catalog/roles/nosuch").status_code in (400, 404)
    features = {f["key"]: f for f in api.get("/api/v1/catalog/features").json()["features"]}
    assert "FOSSP-DASPO" in features["relational-database"]["roles"]


def test_the_wizard_understands_a_sentence_and_offers_the_settings(signed_in: Client) -> None:
    api = signed_in()
    answer = api.post("/api/v1/recommend", json={"wanted": ["database and a web server for our intranet"]}).json()
    assert [r["name"] for r in answer["roles"]] == ["postgresql", "nginx"]
    assert [u["words"] for u in answer["requests"][0]["understood"]] == ["database", "web server", "intranet"]
    nginx = answer["roles"][1]
    assert nginx["alternatives"][0]["name"] == "httpd"
    assert {s["name"]: s["default"] for s in nginx["settings"]}["http_port"] == 80
    conflict = api.post("/api/v1/recommend", json={"wanted": ["httpd", "nginx"]}).json()
    assert conflict["conflicts"] and not conflict["ok"]
    unknown = api.post("/api/v1/recommend", json={"wanted": ["zzzq qqqz"]})
    assert unknown.status_code == 400 and "zzzq" in unknown.json()["detail"]


def test_a_profile_is_refused_without_its_required_settings_and_keeps_secrets_apart(
    signed_in: Client, tmp_path: Path
) -> None:
    api = signed_in()
    dhcp = {"name": "dhcp", "wanted": ["dhcp server"]}
    refused = api.post("/api/v1/profiles", json=dhcp)
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "kea.subnet"]
    assert not (tmp_path / "web" / "profiles" / "dhcp.yaml").exists()
    answer = api.post("/api/v1/recommend", json={"wanted": ["ldap directory"]}).json()
    role = answer["roles"][0]
    secret = next(s["name"] for s in role["settings"] if s["secret"])
    saved = api.post(
        "/api/v1/profiles",
        json={
            "name": "dir",
            "wanted": ["ldap directory"],
            "settings": {role["id"]: {secret: "s3cret-pass!", "ldap_port": "1389"}},
        },
    )
    assert saved.status_code == 201, saved.text
    path = tmp_path / "web" / "profiles" / "dir.yaml"
    text = path.read_text()
    assert "s3cret-pass!" not in text and "from_file" in text
    kept = Path(yaml.safe_load(text)["roles"][0]["settings"][secret]["from_file"])
    assert kept.read_text() == "s3cret-pass!\n" and kept.stat().st_mode & 0o777 == 0o600
    assert saved.json()["roles"][0]["settings"]["ldap_port"] == 1389
    assert [p["name"] for p in api.get("/api/v1/profiles").json()["profiles"]] == ["dir"]
    assert api.get("/api/v1/profiles/dir").json()["roles"][0]["id"] == role["id"]
    assert api.get("/api/v1/profiles/nosuch").status_code == 404


def test_a_host_is_trusted_only_with_the_fingerprint_confirmed(
    signed_in: Client, ssh_server: SshServer, tmp_path: Path
) -> None:
    api = signed_in()
    offered = api.post("/api/v1/hosts/scan", json={"address": "127.0.0.1", "port": ssh_server.port}).json()
    assert offered["fingerprint"] == ssh_server.fingerprint and offered["key_type"] == "ssh-ed25519"
    host = {"name": "db1", "address": "127.0.0.1", "port": ssh_server.port, "user": "root"}
    wrong = api.post("/api/v1/hosts", json={**host, "fingerprint": "SHA256:not-the-one"})
    assert wrong.status_code == 409 and "nothing was trusted" in wrong.json()["detail"]
    assert not (tmp_path / "web" / "known_hosts").exists()
    added = api.post("/api/v1/hosts", json={**host, "fingerprint": offered["fingerprint"]})
    assert added.status_code == 201, added.text
    known = tmp_path / "web" / "known_hosts"
    assert known.read_text().startswith(f"[127.0.0.1]:{ssh_server.port} ssh-ed25519 ")
    assert known.stat().st_mode & 0o777 == 0o600
    assert [h["name"] for h in api.get("/api/v1/hosts").json()["hosts"]] == ["db1"]
    assert api.get("/api/v1/hosts/db1").json()["port"] == ssh_server.port
    again = api.post("/api/v1/hosts", json={**host, "fingerprint": offered["fingerprint"]})
    assert again.status_code == 409
    # the server lets nobody in: the live reads name the host and why
    for what in ("facts", "platform", "status"):
        answer = api.get(f"/api/v1/hosts/db1/{what}")
        if what == "platform":
            assert answer.status_code == 200 and "refused" in answer.json()["error"]
        else:
            assert answer.status_code == 400, answer.text
            assert "db1: SSH login as root refused" in answer.json()["detail"]
    assert api.get("/api/v1/hosts/nosuch/status").status_code == 404
    # health is read over SNMP, not SSH: no agent here (and no passphrase) is its own answer
    health = api.get("/api/v1/hosts/db1/health")
    assert health.status_code == 200, health.text
    body = health.json()
    assert (body["schema_version"], body["host"], body["status"], body["ok"]) == (1, "db1", "unreadable", False)
    assert body["error"]["where"] == "db1" and body["error"]["code"] in ("no-credentials", "snmp-unanswered")


def _add_host(api: TestClient, ssh_server: SshServer) -> None:
    offered = api.post("/api/v1/hosts/scan", json={"address": "127.0.0.1", "port": ssh_server.port}).json()
    host = {"name": "db1", "address": "127.0.0.1", "port": ssh_server.port, "fingerprint": offered["fingerprint"]}
    assert api.post("/api/v1/hosts", json=host).status_code == 201


def test_the_fleet_shows_every_host_and_why_one_could_not_be_read(signed_in: Client, ssh_server: SshServer) -> None:
    viewer, admin = signed_in("vic"), signed_in()
    assert viewer.get("/api/v1/status").json() == {"schema_version": 1, "hosts": []}
    assert "an operator or administrator adds hosts" in viewer.get("/status").text
    _add_host(admin, ssh_server)
    fleet = viewer.get("/api/v1/status").json()["hosts"]
    assert [(h["host"], h["roles"]) for h in fleet] == [("db1", [])]
    assert "db1: SSH login as root refused" in fleet[0]["error"]
    page = viewer.get("/status").text
    assert 'data-host="db1"' in page and "SSH login as root refused" in page
    host_page = viewer.get("/hosts/db1").text.split("</header>")[1]  # a host's page: nothing to run for a viewer
    assert host_page.count("SSH login as root refused") == 1, "facts, platform and status: one line"
    assert 'method="post"' not in host_page
    assert 'id="run"' in admin.get("/hosts/db1").text


def test_a_run_is_recorded_with_its_log_and_streamed(signed_in: Client, ssh_server: SshServer) -> None:
    api = signed_in()
    _add_host(api, ssh_server)
    bad = api.post("/api/v1/runs", json={"kind": "deploy", "hosts": ["db1"], "roles": ["nosuch"]})
    assert bad.status_code == 400 and api.get("/api/v1/runs").json()["runs"] == []
    started = api.post("/api/v1/runs", json={"kind": "plan", "hosts": ["db1"], "roles": ["nginx"]})
    assert started.status_code == 202 and started.json()["user"] == "ada"
    run_id = started.json()["id"]
    with api.stream("GET", f"/api/v1/runs/{run_id}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        body = "".join(stream.iter_text())
    assert "event: progress" in body and '"message": "connecting"' in body
    assert body.rstrip().endswith('event: end\ndata: {"state": "failed", "error": null}')
    detail = api.get(f"/api/v1/runs/{run_id}").json()
    assert detail["state"] == "failed" and detail["subject"] == "nginx"
    assert [e["message"] for e in detail["events"]] == ["connecting", "failed"]
    assert "SSH login as root refused" in detail["result"]["hosts"][0]["error"]
    assert [r["id"] for r in api.get("/api/v1/runs").json()["runs"]] == [run_id]
    resumed = api.get(f"/api/v1/runs/{run_id}/events", headers={"Last-Event-ID": str(detail["events"][-1]["id"])})
    assert "event: progress" not in resumed.text and "event: end" in resumed.text
    assert api.get("/api/v1/runs/999").status_code == 404


CHANGES = [
    ("post", "/api/v1/profiles", {"name": "site", "wanted": ["web server"]}),
    ("post", "/api/v1/hosts/scan", {"address": "127.0.0.1", "port": 22}),
    ("post", "/api/v1/hosts", {"name": "db1", "address": "127.0.0.1", "fingerprint": "SHA256:x"}),
    ("post", "/api/v1/runs", {"kind": "plan", "hosts": ["db1"], "roles": ["nginx"]}),
    ("post", "/api/v1/runs", {"kind": "deploy", "hosts": ["db1"], "roles": ["nginx"]}),
    ("post", "/api/v1/runs", {"kind": "decommission", "hosts": ["db1"]}),
]


def test_a_viewer_reads_but_every_change_is_refused(signed_in: Client, tmp_path: Path) -> None:
    viewer = signed_in("vic")
    for method, path, body in CHANGES:
        answer = viewer.request(method, path, json=body)
        assert answer.status_code == 403, f"{method} {path}: {answer.text}"
        assert "vic (viewer) may not" in answer.json()["detail"]
    assert viewer.get("/api/v1/runs").json()["runs"] == [] and not (tmp_path / "web").exists()
    assert viewer.get("/api/v1/catalog/roles").status_code == 200
    assert viewer.post("/api/v1/recommend", json={"wanted": ["web server"]}).status_code == 200
    assert "needs the operator right" in viewer.get("/wizard?need=web+server").text
    for page in ("/wizard?need=web+server", "/hosts", "/status", "/catalog", "/runs", "/profiles"):
        shown = viewer.get(page)
        assert shown.status_code == 200 and 'method="post"' not in shown.text.split("</header>")[1], page


def test_an_operator_changes_and_the_csrf_token_is_checked(signed_in: Client, ssh_server: SshServer) -> None:
    operator = signed_in("otto")
    assert operator.post("/api/v1/profiles", json={"name": "site", "wanted": ["web server"]}).status_code == 201
    scanned = operator.post("/api/v1/hosts/scan", json={"address": "127.0.0.1", "port": ssh_server.port})
    assert scanned.status_code == 200
    page = operator.get("/wizard?need=web+server").text
    assert 'id="save"' in page
    del operator.headers["X-CSRF-Token"]
    refused = operator.post("/api/v1/profiles", json={"name": "other", "wanted": ["web server"]})
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]


def test_features_picked_in_the_wizard_page_make_a_profile_once_its_settings_are_filled(
    signed_in: Client, tmp_path: Path
) -> None:
    operator = signed_in("otto")
    page = operator.get("/wizard?feature=relational-database&feature=dhcp").text
    assert (
        'placeholder="10.0.0.1"' in page.split('name="set:FOSSP-NESKE:dns_servers"')[1].split(">")[0]
    )  # a list as typed
    assert 'value="dhcp" checked' in page and 'data-role="FOSSP-DASPO"' in page and 'data-role="FOSSP-NESKE"' in page
    picked = {"csrf": operator.headers["X-CSRF-Token"], "name": "office", "feature": ["relational-database", "dhcp"]}
    refused = operator.post("/wizard", data=picked)
    assert refused.status_code == 422 and "kea.subnet" in refused.text
    assert not (tmp_path / "web" / "profiles" / "office.yaml").exists()
    site = {"subnet": "10.213.0.0/24", "range_start": "10.213.0.100", "range_end": "10.213.0.200"}
    site |= {"router": "10.213.0.1", "dns_servers": "10.213.0.1", "domain_name": "office.example.org"}
    fields = {f"set:FOSSP-NESKE:{name}": value for name, value in site.items()}
    wrong = operator.post("/wizard", data={**picked, **fields, "set:FOSSP-NESKE:subnet": "10.213.0.5/24"})
    assert wrong.status_code == 422 and "kea.subnet: '10.213.0.5/24' is not a network" in unescape(wrong.text)
    assert 'id="save"' in wrong.text and 'value="10.213.0.100"' in wrong.text, "the form again, as it was typed"
    saved = operator.post("/wizard", data={**picked, **fields}, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == "/profiles#office"
    roles = operator.get("/api/v1/profiles/office").json()["roles"]
    assert {r["id"] for r in roles} == {"FOSSP-DASPO", "FOSSP-NESKE"}
    kea = next(r for r in roles if r["id"] == "FOSSP-NESKE")["settings"]
    assert kea["subnet"] == "10.213.0.0/24" and kea["dns_servers"] == ["10.213.0.1"]  # a list typed as its items


def test_a_platform_directory_is_read_on_a_host_of_the_console_before_the_run(
    signed_in: Client, ssh_server: SshServer, tmp_path: Path
) -> None:
    """The console resolves a platform's directory host as the CLI does, from its own
    inventory, before the run starts: a host it does not know is refused, no run recorded;
    one it cannot read is bad input naming it."""
    api = signed_in()
    _add_host(api, ssh_server)
    profiles = tmp_path / "web" / "profiles"
    profiles.mkdir(parents=True, exist_ok=True)
    for name, directory in (("ghost", "nosuch"), ("locked", "db1")):
        role = {"id": "FOSSP-PLSPL", "settings": {"directory": directory}}
        (profiles / f"{name}.yaml").write_text(yaml.safe_dump({"roles": [role]}))
    unknown = api.post("/api/v1/runs", json={"kind": "plan", "hosts": ["db1"], "profile": "ghost"})
    assert unknown.status_code == 404 and "host nosuch: not in the console's inventory" in unknown.text
    locked = api.post("/api/v1/runs", json={"kind": "plan", "hosts": ["db1"], "profile": "locked"})
    assert locked.status_code == 400 and "platform.directory: cannot read FOSSP's state on db1" in locked.text
    assert api.get("/api/v1/runs").json()["runs"] == []


def test_a_platform_backup_director_is_a_host_of_the_console_read_before_the_run(
    signed_in: Client, ssh_server: SshServer, tmp_path: Path
) -> None:
    """The console resolves the platform's backup_director as the CLI does: a host it does
    not know is refused naming the setting, before any run is recorded."""
    api = signed_in()
    _add_host(api, ssh_server)
    profiles = tmp_path / "web" / "profiles"
    profiles.mkdir(parents=True, exist_ok=True)
    role = {"id": "FOSSP-PLSPL", "settings": {"backup_director": "nosuch"}}
    (profiles / "backed.yaml").write_text(yaml.safe_dump({"roles": [role]}))
    unknown = api.post("/api/v1/runs", json={"kind": "deploy", "hosts": ["db1"], "profile": "backed"})
    assert unknown.status_code == 404, unknown.text
    assert "platform.backup_director=nosuch: host nosuch: not in the console's inventory" in unknown.text
    assert api.get("/api/v1/runs").json()["runs"] == []
