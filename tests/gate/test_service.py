"""The service applies the rules in one transaction, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import text

from fossp.catalog.schema import CatalogStatus
from fossp.gate import catalog_status
from fossp.gate.errors import Forbidden, Invalid, NotFound, Refused
from fossp.gate.service import GateService
from tests.gate.conftest import pass_gate


def propose(gate: GateService, name: str = "PostgreSQL 16", roles: list[str] | None = None) -> int:
    view = gate.propose("mai", name, "The database server role", roles or ["FOSSP-DASPO"])
    return int(view["id"])


def test_proposal_starts_before_initiation_with_the_liaison_as_lead(service: GateService) -> None:
    view = service.show(propose(service))
    assert view["phase"] is None and view["lead"] == "lia"
    assert view["gate"]["name"] == "Gate 1: enter Initiation"
    assert view["catalog_status"] == "preview"


def test_roles_are_catalog_role_ids(service: GateService) -> None:
    with pytest.raises(Invalid) as error:
        service.propose("mai", "Nope", "x", ["FOSSP-ZZSZZ"])
    assert error.value.field == "roles"
    assert service.propose("mai", "By name", "x", ["postgresql"])["roles"] == ["FOSSP-DASPO"]


def test_only_a_go_into_launch_or_removal_changes_the_catalog_and_says_so_beforehand(service: GateService) -> None:
    app = propose(service, "WildFly 31", ["wildfly"])  # a preview role in its data file
    for _ in range(8):
        view = pass_gate(service, app)
        assert service.role_statuses() == {} and view["catalog"][0]["status"] == "preview"
    assert view["phase"] == "full-role-validation"
    assert view["gate"]["catalog_on_go"]["summary"] == "a go here launches FOSSP-APSWI wildfly (now preview)"
    view = pass_gate(service, app)
    assert view["phase_name"] == "Launch/Availability" and view["catalog_status"] == "launched"
    assert catalog_status(service.db.url) == {"FOSSP-APSWI": CatalogStatus.LAUNCHED}
    assert [(c["role_id"], c["status"]) for c in view["catalog_changes"]] == [("FOSSP-APSWI", "launched")]
    assert view["gate"]["catalog_on_go"] == {"summary": "a go here leaves the catalog as it is", "changes": []}
    view = pass_gate(service, app)
    assert view["gate"]["catalog_on_go"]["summary"] == "a go here retires FOSSP-APSWI wildfly (now launched)"
    view = pass_gate(service, app)
    assert view["phase"] == "service-removal" and view["state"] == "done" and view["gate"] is None
    assert service.role_statuses() == {"FOSSP-APSWI": CatalogStatus.RETIRED}
    assert view["catalog"] == [{"role_id": "FOSSP-APSWI", "name": "wildfly", "new": False, "status": "retired"}]


def test_a_new_application_for_a_launched_role_leaves_it_launched(service: GateService) -> None:
    app = propose(service)
    assert service.show(app)["catalog"][0]["status"] == "launched"
    for _ in range(9):
        view = pass_gate(service, app)
    assert view["phase"] == "launch" and view["catalog_changes"] == [] and service.role_statuses() == {}


def test_a_refused_go_writes_nothing(service: GateService) -> None:
    app = propose(service)
    service.review("mem", app, "go", "looks fine")
    audit_before = len(service.audit())
    with pytest.raises(Refused, match="deliverable 'proposal' is missing"):
        service.decide("lia", app, "go", "ship it")
    assert service.show(app)["phase"] is None and service.show(app)["decisions"] == []
    assert len(service.audit()) == audit_before


def test_permissions(service: GateService) -> None:
    app = propose(service)
    service.review("mem", app, "go", "fine")
    with pytest.raises(Forbidden):
        service.decide("mai", app, "no-go", "I say so")
    with pytest.raises(Forbidden):
        service.decide("mem", app, "no-go", "not the lead")
    with pytest.raises(Forbidden):
        service.review("vic", app, "go", "viewers only read")
    with pytest.raises(Forbidden):
        service.add_user("mem", "eve", "admin", "password123")
    with pytest.raises(NotFound):
        service.review("nobody", app, "go", "x")


def test_corrective_actions_block_a_go_until_approved(service: GateService) -> None:
    app = propose(service)
    view = service.open_action("qa", app, "Write the proposal", "mai", date.today() + timedelta(days=7))
    action = view["actions"][0]["id"]
    with pytest.raises(Refused, match=f"corrective action #{action}"):
        pass_gate(service, app)
    service.complete_action("mai", action)
    with pytest.raises(Forbidden):
        service.approve_action("mai", action)
    service.approve_action("mem", action)
    assert service.decide("lia", app, "go", "action approved")["phase"] == "initiation"


def test_no_go_stops_and_hold_pauses(service: GateService) -> None:
    app = propose(service)
    service.review("mem", app, "no-go", "not a server role")
    view = service.decide("lia", app, "no-go", "out of scope")
    assert view["state"] == "stopped" and view["catalog"][0]["status"] == "launched"
    assert service.role_statuses() == {} and view["catalog_changes"] == []
    with pytest.raises(Refused, match="stopped by a no-go"):
        service.deliver("mai", app, "proposal", "https://x")
    view = service.resume("lia", app)
    assert view["state"] == "active" and view["round"] == 2 and view["gate"]["reviews"] == []
    service.review("mem", app, "hold", "wait for upstream")
    assert service.decide("lia", app, "hold", "upstream release pending")["state"] == "on-hold"
    with pytest.raises(Refused, match="on hold"):
        service.review("qa", app, "go", "x")


def test_recycle_keeps_deliverables_and_starts_a_new_round(service: GateService) -> None:
    app = propose(service)
    service.deliver("mai", app, "proposal", "https://wiki/proposal")
    service.assess("mem", app, "fits-platform", True)
    service.review("mem", app, "recycle", "sharpen the scope")
    view = service.decide("lia", app, "recycle", "rework the scope")
    gate = view["gate"]
    assert view["round"] == 2 and gate["deliverables"][0]["reference"] == "https://wiki/proposal"
    assert gate["criteria"][0]["met"] is False and gate["reviews"] == []


def test_unknown_deliverable_names_the_field(service: GateService) -> None:
    app = propose(service)
    with pytest.raises(Invalid) as error:
        service.deliver("mai", app, "nonsense", "x")
    assert error.value.field == "key"


def test_one_review_per_participant_and_round(service: GateService) -> None:
    app = propose(service)
    service.review("mem", app, "go", "fine")
    with pytest.raises(Refused, match="already reviewed"):
        service.review("mem", app, "go", "again")


def test_the_audit_trail_is_append_only(service: GateService) -> None:
    app = propose(service)
    entries = service.audit(app)
    assert entries[0]["action"] == "proposed" and entries[0]["actor"] == "mai"
    with pytest.raises(Exception, match="append-only"), service.db.engine.begin() as connection:
        connection.execute(text("UPDATE audit_entries SET actor = 'mallory'"))
    with pytest.raises(Exception, match="append-only"), service.db.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_entries"))
    assert service.audit(app) == entries


def test_passwords_are_hashed_with_argon2(service: GateService) -> None:
    with service.db.engine.connect() as connection:
        stored = connection.execute(text("SELECT password_hash FROM users WHERE name='lia'")).scalar()
    assert stored.startswith("$argon2id$")


def test_the_proposer_maintains_and_other_maintainers_are_refused(service: GateService) -> None:
    service.add_user(None, "ann", "maintainer", None)
    app = propose(service)
    assert service.show(app)["maintainers"] == ["mai"]
    audit_before = len(service.audit())
    with pytest.raises(Forbidden, match="ann does not maintain this application"):
        service.deliver("ann", app, "proposal", "https://x")
    assert service.show(app)["gate"]["deliverables"][0]["reference"] is None
    assert len(service.audit()) == audit_before
    with pytest.raises(Forbidden, match="not the review lead"):
        service.add_maintainer("mem", app, "ann")
    with pytest.raises(Forbidden, match="may not manage-maintainers"):
        service.add_maintainer("mai", app, "ann")
    assert service.add_maintainer("lia", app, "ann")["maintainers"] == ["ann", "mai"]
    service.deliver("ann", app, "proposal", "https://x")
    with pytest.raises(Refused, match="already maintains"):
        service.add_maintainer("adm", app, "ann")
    assert service.remove_maintainer("adm", app, "mai")["maintainers"] == ["ann"]
    with pytest.raises(Forbidden, match="mai does not maintain"):
        service.review("mai", app, "go", "x")
    with pytest.raises(Refused, match="last maintainer"):
        service.remove_maintainer("lia", app, "ann")
    with pytest.raises(Invalid) as error:
        service.add_maintainer("lia", app, "nobody")
    assert error.value.field == "user"
    assert [e["action"] for e in service.audit(app)][:2] == ["maintainer-removed", "deliverable"]
