"""The OpenStack role planned on recorded facts: on Debian 12, the exact order (packages,
the services' configuration 0640 root:<service>, the units, then the setup steps once
they run), passwords generated once and kept out of every command line; on Fedora, a
refusal that says why (no OpenStack packages there)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from fossp import secrets
from fossp.catalog import load_catalog
from fossp.engine.backends import APT, backend_for
from fossp.engine.operations import Operation
from fossp.engine.planner import plan_role, wanted_roles
from fossp.engine.state import HostState
from fossp.errors import BadInput

from .conftest import recorded

ADMIN = "Admin-Secret-42"
GENERATED = ["keystone_db", "glance_db", "placement_db", "glance", "placement", "rabbit"]


@pytest.fixture(autouse=True)
def generated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Generated secrets in a scratch folder, not the controller's."""
    monkeypatch.setattr(secrets, "GENERATED_DIR", tmp_path / "secrets")
    return tmp_path / "secrets"


def _plan(facts_name: str = "debian12-bare", **settings: Any) -> tuple[list[Operation], dict[str, Any]]:
    catalog = load_catalog()
    given = {"admin_password": ADMIN, **settings}
    wanted = wanted_roles(catalog, [("openstack", given)], {}, "lab:os-1")[0]
    facts = recorded(facts_name)
    assert facts.family is not None
    return plan_role(wanted, facts, HostState(), facts.family, backend_for(facts)), wanted.settings


def test_debian_installs_configures_starts_then_sets_up() -> None:
    ops, _ = _plan()
    marks = ["~" if op.pending else "+" if op.change else "=" for op in ops]
    assert [f"{mark} {op.kind.value} {op.target}" for mark, op in zip(marks, ops, strict=True)] == [
        "+ create-subvolume /var/lib/glance",
        "+ install-packages dbconfig-no-thanks keystone glance placement-api rabbitmq-server python3-openstackclient",
        "= open-firewall port 5000/tcp, port 9292/tcp, port 8778/tcp",  # no firewalld on this host
        "+ write-file /etc/keystone/keystone.conf",
        "+ write-file /etc/glance/glance-api.conf",
        "+ write-file /etc/placement/placement.conf",
        "+ write-file /etc/openstack/clouds.yaml",
        "+ write-file /usr/local/sbin/fossp-openstack",
        "~ enable-unit glance-api.service",
        "~ start-unit glance-api.service",
        "~ enable-unit keystone.service",
        "~ start-unit keystone.service",
        "~ enable-unit placement-api.service",
        "~ start-unit placement-api.service",
        "~ enable-unit rabbitmq-server.service",
        "~ start-unit rabbitmq-server.service",
        "+ run-step databases",
        "+ run-step schemas-and-keys",
        "+ run-step catalog-and-image",
    ]
    files = {op.target: (op.mode, op.owner) for op in ops if op.kind.value == "write-file"}
    assert files == {
        "/etc/keystone/keystone.conf": ("640", "root:keystone"),
        "/etc/glance/glance-api.conf": ("640", "root:glance"),
        "/etc/placement/placement.conf": ("640", "root:placement"),
        "/etc/openstack/clouds.yaml": ("600", "root:root"),
        "/usr/local/sbin/fossp-openstack": ("755", "root:root"),
    }


def test_the_steps_commands_hold_no_password_and_get_them_on_stdin() -> None:
    ops, settings = _plan(controller_host="os-1.fossp.test", region="Lab")
    steps = {op.target: op for op in ops if op.kind.value == "run-step"}
    passwords = [settings[f"{name}_password"] for name in GENERATED]
    assert all(re.fullmatch("[0-9a-f]{48}", value) for value in passwords)  # 24 random bytes each
    for op in steps.values():
        argv = " ".join(" ".join(command) for command in [*op.commands, *op.undo])
        assert not any(secret in argv for secret in [ADMIN, *passwords]), op.target
    assert steps["databases"].stdin == "".join(f"{settings[f'{db}_password']}\n" for db in GENERATED[:3])
    assert steps["schemas-and-keys"].stdin == f"{settings['rabbit_password']}\n{ADMIN}\n"
    assert steps["schemas-and-keys"].commands[0][3:] == ["schemas-and-keys", "http://os-1.fossp.test:5000/v3/", "Lab"]
    assert steps["catalog-and-image"].commands == [
        [
            "/usr/local/sbin/fossp-openstack",
            "setup",
            "http://localhost:5000/v3",
            "Lab",
            "os-1.fossp.test",
            "fossp-probe",
        ]
    ]
    assert (
        steps["catalog-and-image"].stdin
        == f"{ADMIN}\n{settings['glance_password']}\n{settings['placement_password']}\n"
    )
    # dropping the databases deletes data: only --purge runs it
    assert steps["databases"].undo_on_purge and not steps["schemas-and-keys"].undo_on_purge


def test_the_generated_passwords_reach_the_configuration_and_stay_the_same() -> None:
    ops, settings = _plan()
    conf = next(op for op in ops if op.target == "/etc/glance/glance-api.conf").content or b""
    assert f"connection = mysql+pymysql://glance:{settings['glance_db_password']}@localhost/glance\n" in conf.decode()
    assert f"password = {settings['glance_password']}\n" in conf.decode()
    assert f"transport_url = rabbit://openstack:{settings['rabbit_password']}@localhost:5672/\n" in conf.decode()
    assert _plan()[1] == settings  # made once, read back by every later plan


def test_a_password_that_cannot_go_into_a_url_is_refused() -> None:
    with pytest.raises(BadInput, match="rabbit_password"):
        _plan(rabbit_password="has/a-slash-and@at")


def test_fedora_has_no_openstack_packages_and_says_so() -> None:
    with pytest.raises(BadInput, match="not available on fedora: OpenStack services are no longer packaged in Fedora"):
        _plan("fedora40-bare")


def test_the_purge_may_take_sudo_which_the_role_pulls_in() -> None:
    """python3-oslo.rootwrap depends on sudo, whose prerm refuses to go on a host with no
    root password unless SUDO_FORCE_REMOVE=yes (seen on the lab: the whole purge failed)."""
    purge = APT.remove(["glance", "sudo"])
    assert purge[:4] == ["env", "DEBIAN_FRONTEND=noninteractive", "NEEDRESTART_MODE=a", "SUDO_FORCE_REMOVE=yes"]
    assert purge[4:6] == ["apt-get", "purge"] and purge[-2:] == ["glance", "sudo"]
