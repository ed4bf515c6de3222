"""Inventories in FOSSP's format and in Ansible's INI and YAML formats."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import pytest

from fossp.errors import BadInput
from fossp.hosts.inventory import Inventory, adhoc_host, load_inventory, resolve_targets

ANSIBLE_INI = """\
# comment
lonely.example.com

[web]
web1 ansible_host=192.0.2.11 ansible_user=admin nginx_http_port=8080
web2 ansible_host=192.0.2.12 ansible_port=2222 ansible_ssh_private_key_file=/keys/web

[db]
db1 ansible_host=192.0.2.21

[db:vars]
postgresql_port=5433
greeting="hello there"

[prod:children]
web
db
"""

ANSIBLE_YAML = """\
all:
  hosts:
    lonely: {ansible_host: 192.0.2.1}
  children:
    prod:
      vars: {postgresql_port: 5433}
      children:
        web:
          hosts:
            web1: {ansible_host: 192.0.2.11, nginx_http_port: 8080}
        db:
          hosts:
            db1: {ansible_host: 192.0.2.21, postgresql_port: 6000}
"""

FOSSP_YAML = """\
fossp_inventory: 1
hosts:
  db1: {address: 192.0.2.21, key: ~/.ssh/id_ed25519}
  box: {connection: local}
  image: {connection: root, address: /srv/images/web}
groups:
  databases: {hosts: [db1], vars: {postgresql_port: 5433}}
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_ansible_ini(tmp_path: Path) -> None:
    inventory = load_inventory(_write(tmp_path, "hosts.ini", ANSIBLE_INI))
    web1, web2, db1 = (inventory.hosts[n] for n in ("web1", "web2", "db1"))
    assert (web1.address, web1.user, web1.vars) == ("192.0.2.11", "admin", {"nginx_http_port": 8080})
    assert (web2.port, web2.key) == (2222, "/keys/web")
    assert db1.vars == {"postgresql_port": 5433, "greeting": "hello there"}
    assert sorted(inventory.groups["prod"]) == ["db1", "web1", "web2"]
    assert inventory.hosts["lonely.example.com"].address == "lonely.example.com"


def test_ansible_yaml_child_groups_and_variable_precedence(tmp_path: Path) -> None:
    inventory = load_inventory(_write(tmp_path, "inventory.yml", ANSIBLE_YAML))
    assert sorted(inventory.groups["prod"]) == ["db1", "web1"]
    assert inventory.hosts["db1"].vars["postgresql_port"] == 6000  # host beats group
    assert inventory.hosts["web1"].vars["postgresql_port"] == 5433
    assert [h.name for h in inventory.resolve("all")] == ["lonely", "web1", "db1"]


def test_fossp_format(tmp_path: Path) -> None:
    inventory = load_inventory(_write(tmp_path, "inventory.yaml", FOSSP_YAML))
    db1 = inventory.hosts["db1"]
    assert db1.key == str(Path("~/.ssh/id_ed25519").expanduser())
    assert db1.vars == {"postgresql_port": 5433}
    assert inventory.hosts["box"].connection == "local"
    assert inventory.hosts["image"].address == "/srv/images/web"


def test_targets_resolve_hosts_groups_all_and_addresses(tmp_path: Path) -> None:
    inventory = load_inventory(_write(tmp_path, "hosts.ini", ANSIBLE_INI))
    names = [h.name for h in resolve_targets(inventory, ["web", "db1", "web1", "admin@198.51.100.7:2200"])]
    assert names == ["web1", "web2", "db1", "admin@198.51.100.7:2200"]
    adhoc = adhoc_host("admin@198.51.100.7:2200")
    assert (adhoc.user, adhoc.address, adhoc.port) == ("admin", "198.51.100.7", 2200)
    assert resolve_targets(Inventory(), ["local"])[0].connection == "local"


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("bad.ini", "[web\nhost1\n", "line 1: unclosed section header"),
        ("bad.ini", "[web:vars]\nnovalue\n", "line 2: expected key=value"),
        ("bad.ini", "[web]\nh1 oops\n", "expected key=value, got 'oops'"),
        ("bad.yaml", "fossp_inventory: 1\ngroups:\n  g: {hosts: [ghost]}\n", "unknown host 'ghost'"),
        ("bad.yaml", "fossp_inventory: 1\nhosts:\n  h: {port: 0}\n", "port"),
        ("bad.yaml", "- just\n- a list\n", "is a mapping"),
        ("bad.ini", "[a:children]\nb\n[b:children]\na\n", "contains itself"),
    ],
)
def test_bad_inventories_name_file_and_problem(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = _write(tmp_path, name, text)
    with pytest.raises(BadInput, match=message) as error:
        load_inventory(path)
    assert str(path) in error.value.message


def test_no_target_and_bad_target() -> None:
    with pytest.raises(BadInput, match="no hosts"):
        resolve_targets(Inventory(), [])
    with pytest.raises(BadInput, match="not a host, group or address"):
        resolve_targets(Inventory(), ["bad target!"])


def test_become_from_ansible_and_fossp_inventories(tmp_path: Path) -> None:
    ini = tmp_path / "hosts"
    ini.write_text("a ansible_user=ops ansible_become=true\nb ansible_user=ops\n")
    hosts = load_inventory(ini).hosts
    assert (hosts["a"].user, hosts["a"].become, hosts["b"].become) == ("ops", True, False)
    own = tmp_path / "inventory.yaml"
    own.write_text("fossp_inventory: 1\nhosts:\n  c: {user: ops, become: true}\n")
    assert load_inventory(own).hosts["c"].become


def test_lab_targets_are_resolved_from_their_records_without_a_probe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import socket
    from datetime import datetime

    from fossp.lab.hosts import LabHost, _save, _start_time
    from fossp.lab.paths import LabPaths

    monkeypatch.setenv("FOSSP_LAB_DIR", str(tmp_path))
    for number in range(40):
        name = f"fl-{number}"
        record = {"name": name, "address": f"10.213.1.{number}", "key_path": tmp_path / "key"}
        paths = {field: tmp_path / name for field in ("known_hosts_path", "root_path", "log_path")}
        _save(
            LabPaths.current(),
            LabHost(
                **record,
                **paths,
                netns=name,
                veth=name,
                mac="",
                host_key="k",
                created_at=datetime.now(UTC),
                pid=os.getpid(),  # "running", so a liveness probe would connect
                pid_start=_start_time(os.getpid()),
            ),
        )

    def no_probe(*_: object, **__: object) -> None:
        raise AssertionError("a lab target was probed while it was only being named")

    monkeypatch.setattr(socket, "create_connection", no_probe)
    hosts = resolve_targets(Inventory(), [f"lab:fl-{number}" for number in range(40)])
    assert [h.address for h in hosts] == [f"10.213.1.{number}" for number in range(40)]
    with pytest.raises(BadInput, match="unknown lab host 'fl-99'"):
        resolve_targets(Inventory(), ["lab:fl-99"])
