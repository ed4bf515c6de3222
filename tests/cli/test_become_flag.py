"""--become turns every target host into a sudo -n host, whatever the inventory says."""

from __future__ import annotations

from pathlib import Path

from fossp.cli.deploy_cmds import target_hosts


def test_become_flag_applies_to_every_target(tmp_path: Path) -> None:
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("[web]\nweb1 ansible_host=192.0.2.10 ansible_user=admin\nweb2 ansible_host=192.0.2.11\n")
    plain = target_hosts(["web"], inventory)
    assert [h.become for h in plain] == [False, False]
    elevated = target_hosts(["web"], inventory, become=True)
    assert [(h.name, h.user, h.become) for h in elevated] == [("web1", "admin", True), ("web2", "root", True)]
