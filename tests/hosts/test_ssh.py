"""The SSH connector against a real sshd: argv stays data, keys are checked, errors are clear."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from fossp.catalog.schema import Family
from fossp.engine.fleet import run_fleet
from fossp.hosts.connector import HostError, SshConnector
from fossp.hosts.facts import gather_facts
from fossp.hosts.inventory import HostSpec
from fossp.hosts.timeouts import Timeouts

from .conftest import Sshd, free_port, keygen


async def _connected(host: HostSpec) -> SshConnector:
    return await SshConnector.open(host, Timeouts(connect=5))


def test_arguments_cross_as_data_and_one_connection_serves_the_run(sshd: Sshd, tmp_path: Path) -> None:
    marker = tmp_path / "injected"

    async def scenario() -> tuple[str, str, str]:
        connector = await _connected(sshd.host())
        try:
            echoed = await connector.check(["printf", "%s|", "a b", f"$(touch {marker})", "'q'", "*"])
            first = await connector.check(["sh", "-c", 'echo "$SSH_CONNECTION"'])
            second = await connector.check(["sh", "-c", 'echo "$SSH_CONNECTION"'])
        finally:
            await connector.close()
        return echoed.stdout, first.stdout, second.stdout

    echoed, first, second = asyncio.run(scenario())
    assert echoed == f"a b|$(touch {marker})|'q'|*|"
    assert not marker.exists()
    assert first == second  # same client port: one connection for every command


def test_write_file_sends_content_as_data(sshd: Sshd, tmp_path: Path) -> None:
    target = tmp_path / "sub dir" / "file's name"
    content = b"$(touch /tmp/never)\n`id`\n\x00binary\n"

    async def scenario() -> None:
        connector = await _connected(sshd.host())
        try:
            await connector.write_file(str(target), content, 0o640, "root:root")
        finally:
            await connector.close()

    asyncio.run(scenario())
    assert target.read_bytes() == content
    assert oct(target.stat().st_mode & 0o777) == "0o640"


def test_facts_in_one_round_trip(sshd: Sshd) -> None:
    async def scenario() -> None:
        connector = await _connected(sshd.host())
        try:
            facts = await gather_facts(connector, ["/etc/hostname"])
        finally:
            await connector.close()
        assert facts.family is Family.DEBIAN
        assert facts.package_manager == "apt"
        assert facts.listens("tcp", sshd.port)
        assert "/etc/hostname" in facts.files

    asyncio.run(scenario())


def test_unknown_host_key_is_refused(sshd: Sshd, tmp_path: Path) -> None:
    other = keygen(tmp_path / "other_host")
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{sshd.port} {other}\n")
    with pytest.raises(HostError, match="host key not verified"):
        asyncio.run(_connected(sshd.host(known_hosts=str(known))))


def test_refused_key_is_a_clear_error(sshd: Sshd, tmp_path: Path) -> None:
    keygen(tmp_path / "stranger")
    with pytest.raises(HostError, match="refused"):
        asyncio.run(_connected(sshd.host(key=str(tmp_path / "stranger"))))


def test_unreachable_host_is_a_clear_error(sshd: Sshd) -> None:
    with pytest.raises(HostError, match=r"cannot reach 127\.0\.0\.1"):
        asyncio.run(_connected(sshd.host(port=free_port())))


def test_fleet_keeps_going_when_one_host_fails(sshd: Sshd) -> None:
    hosts = [sshd.host("a"), sshd.host("down", port=free_port()), sshd.host("b")]

    async def action(connector: object, host: HostSpec, report: object) -> str:
        assert isinstance(connector, SshConnector)
        return (await connector.check(["echo", host.name])).stdout.strip()

    results = asyncio.run(run_fleet(hosts, action))
    assert [(r.host, r.ok, r.value) for r in results] == [("a", True, "a"), ("down", False, None), ("b", True, "b")]
    assert "cannot reach" in (results[1].error or "")


def test_a_fleet_parses_its_key_and_known_hosts_once(sshd: Sshd, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncssh

    from fossp.hosts import connector as module

    monkeypatch.setattr(module, "_PARSED", {})  # as at the start of a run
    parsed: list[str] = []
    for name in ("load_keypairs", "read_known_hosts"):
        real = getattr(asyncssh, name)
        monkeypatch.setattr(asyncssh, name, lambda path, real=real: parsed.append(path) or real(path))

    async def scenario() -> None:
        for name in ("one", "two", "three"):
            connector = await _connected(sshd.host(name))
            await connector.check(["true"])
            await connector.close()

    asyncio.run(scenario())
    assert sorted(parsed) == sorted([str(sshd.key), str(sshd.known_hosts)])


def test_an_unreadable_key_is_one_error_naming_it(sshd: Sshd, tmp_path: Path) -> None:
    broken = tmp_path / "id_broken"
    broken.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nnot a key\n")
    for key in (str(broken), str(tmp_path / "missing")):
        with pytest.raises(HostError, match=rf"^loop: cannot read {key}: "):
            asyncio.run(_connected(sshd.host(key=key)))
