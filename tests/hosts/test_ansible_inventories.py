"""FOSSP reads Ansible inventories as Ansible does: each file of tests/hosts/inventories/ (and
the `ansible-inventory --list` JSON of it) is compared with what Ansible makes of it (hosts,
addresses, ports, users, variables after group precedence, every group's members), where Ansible is installed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from fossp.hosts.inventory import Inventory, load_inventory

CORPUS = Path(__file__).parent / "inventories"
FILES = sorted(CORPUS.iterdir())
ANSIBLE_INVENTORY = shutil.which("ansible-inventory")


def _ansible_reading(path: Path, scratch: Path) -> dict[str, Any]:
    env = {**os.environ, "ANSIBLE_LOCAL_TEMP": str(scratch), "ANSIBLE_HOME": str(scratch)}
    assert ANSIBLE_INVENTORY is not None
    done = subprocess.run(
        [ANSIBLE_INVENTORY, "-i", str(path), "--list"], capture_output=True, text=True, env=env, check=True
    )
    assert "WARNING" not in done.stderr, done.stderr  # Ansible read the file whole, as one format
    listed: dict[str, Any] = json.loads(done.stdout)
    return listed


def _ansible_groups(listed: dict[str, Any]) -> dict[str, list[str]]:
    """Each group's hosts, its children's included (the --list JSON names them apart)."""

    def members(group: str) -> set[str]:
        body = listed.get(group, {})
        return set(body.get("hosts", [])).union(*(members(child) for child in body.get("children", [])))

    return {group: sorted(members(group)) for group in listed if group not in ("_meta", "all", "ungrouped")}


def _fossp_hosts(inventory: Inventory) -> dict[str, dict[str, Any]]:
    return {
        name: {"address": spec.address, "port": spec.port, "user": spec.user, "vars": spec.vars}
        for name, spec in inventory.hosts.items()
    }


def _expected_hosts(listed: dict[str, Any], names: set[str]) -> dict[str, dict[str, Any]]:
    hostvars = listed["_meta"]["hostvars"]
    return {
        name: {
            "address": (own := hostvars.get(name, {})).get("ansible_host", name),
            "port": own.get("ansible_port", 22),
            "user": own.get("ansible_user", "root"),
            "vars": {key: value for key, value in own.items() if not key.startswith("ansible_")},
        }
        for name in names
    }


@pytest.mark.skipif(ANSIBLE_INVENTORY is None, reason="ansible-inventory is not installed (scripts/setup.d/ansible.sh)")
@pytest.mark.parametrize("path", FILES, ids=[path.name for path in FILES])
def test_fossp_reads_the_inventory_as_ansible_does(path: Path, tmp_path: Path) -> None:
    listed = _ansible_reading(path, tmp_path)
    groups = _ansible_groups(listed)
    names = set(listed["_meta"]["hostvars"]).union(*groups.values(), listed.get("ungrouped", {}).get("hosts", []))
    as_json = tmp_path / "listed.json"
    as_json.write_text(json.dumps(listed))
    for inventory in (load_inventory(path), load_inventory(as_json)):  # the file, and Ansible's JSON of it
        assert _fossp_hosts(inventory) == _expected_hosts(listed, names)
        ours = {g: sorted(h) for g, h in inventory.groups.items() if h and g not in ("all", "ungrouped")}
        assert ours == {g: h for g, h in groups.items() if h}


def test_the_corpus_has_every_form() -> None:
    """The comparison above is worth as much as the forms the corpus holds."""
    text = "\n".join(path.read_text() for path in FILES)
    for form in ("[01:03]", "[a:c]", "[1:5:2]", 'motd="hello there"', ":2222", ":children]", ":vars]", "hosts:\n"):
        assert form in text, form
    assert any(path.suffix == "" for path in FILES) and any(path.suffix == ".yaml" for path in FILES)
