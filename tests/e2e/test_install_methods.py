"""Installation methods from one profile (PostgreSQL and nginx), for real: the profile is
deployed offline into a Debian root through a chroot (`fossp build root`), the root boots
as a lab host, its first boot finishes the roles, and FOSSP's own probes pass on it. The
same profile as an OS container archive (`fossp container build`) runs under podman,
under systemd-nspawn and as a lab host, its roles passing their probes each time."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fossp.lab import LabHost, down, pool, up
from fossp.lab.paths import LabPaths
from fossp.lab.testing import ssh, unavailable_reason
from tests.e2e.conftest import fossp_json

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]
PROFILE = "fossp_profile: 1\nroles:\n  - id: FOSSP-DASPO\n    settings: {database: shop}\n  - id: FOSSP-WDSNG\n"
ROOT_NAME = "im-pgweb"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    profile = tmp_path_factory.mktemp("profile") / "pgweb.yaml"
    profile.write_text(PROFILE)
    result = fossp_json("build", "root", "--profile", str(profile), "--name", ROOT_NAME, "--force", timeout=1500)
    yield result
    pool.delete_subvolume(Path(result["root"]))


@pytest.fixture(scope="module")
def booted(built: dict[str, Any]) -> Iterator[LabHost]:
    try:
        [host] = up(["im-root"], source=Path(built["root"]))
        yield host
    finally:
        down(["im-root"])


def _first_boot_record(host: LabHost, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = ssh(host, "systemctl", "is-active", "fossp-firstboot.service", check=False).stdout.strip()
        if done in ("active", "failed"):
            return json.loads(ssh(host, "cat", "/var/lib/fossp/firstboot/record.json").stdout)
        time.sleep(2)
    raise AssertionError(f"fossp-firstboot.service did not finish within {timeout} s")


def test_the_offline_root_holds_the_roles_and_no_build_scaffolding(built: dict[str, Any]) -> None:
    root = Path(built["root"])
    assert root.parent == LabPaths.current().pool / "builds"
    assert "install-packages postgresql postgresql-client" in built["applied"]
    assert built["deferred_to_first_boot"] == ["FOSSP-DASPO create-database"]
    assert [s["step"] for s in built["steps"]][-1] == "FOSSP on the host, for its first boot"
    # the data folders are subvolumes of their own, as on a live host
    assert sorted(str(p) for p in pool.nested_subvolumes(root)) == [
        "var/lib/postgresql",
        "var/log/nginx",
        "var/log/postgresql",
    ]
    assert (root / "var/lib/postgresql/15/main/PG_VERSION").exists()  # the cluster made in the chroot
    assert "/srv/www/fossp" in (root / "etc/nginx/conf.d/fossp.conf").read_text()
    assert (root / "etc/systemd/system/multi-user.target.wants/postgresql.service").is_symlink()
    state = json.loads((root / "var/lib/fossp/state.json").read_text())
    assert {i["state"] for i in state["instances"].values()} == {"ready"}
    firstboot = root / "var/lib/fossp/firstboot/profile.yaml"
    assert firstboot.stat().st_mode & 0o777 == 0o600 and "database: shop" in firstboot.read_text()
    assert (root / "usr/lib/fossp/venv/bin/fossp").exists()
    os_release = (root / "etc/os-release").read_text()
    assert 'FOSSP_ROLES="FOSSP-DASPO FOSSP-WDSNG"' in os_release and "VARIANT_ID=fossp-server" in os_release
    # what only the build needed is gone: no service blocker, no lab source, no caches, empty /run
    assert not (root / "usr/sbin/policy-rc.d").exists()
    assert not list((root / "etc/apt/sources.list.d").glob("fossp-*"))
    assert "deb.debian.org" in (root / "etc/apt/sources.list").read_text()
    assert not list((root / "var/cache/apt/archives").glob("*.deb"))
    assert not list((root / "run").iterdir())


def test_a_plan_on_the_built_root_is_empty(built: dict[str, Any], tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(f"fossp_inventory: 1\nhosts:\n  built: {{address: {built['root']}, connection: chroot}}\n")
    profile = tmp_path / "pgweb.yaml"
    profile.write_text(PROFILE)
    [plan] = fossp_json("plan", "--profile", str(profile), "--target", "built", "--inventory", str(inventory))["plans"]
    assert plan["changes"] == 0, [op for op in plan["operations"] if op["change"]]
    deferred = [op["target"] for op in plan["operations"] if op["kind"] == "defer-to-first-boot"]
    assert deferred == ["create-database"]


def test_the_root_boots_as_a_lab_host_and_its_first_boot_finishes_the_roles(booted: LabHost) -> None:
    record = _first_boot_record(booted)
    [outcome] = record["hosts"]
    assert [op["target"] for op in outcome["applied"]] == ["create-database"], outcome["applied"]
    assert outcome["states"] == {"FOSSP-DASPO": "running", "FOSSP-WDSNG": "running"}
    assert ssh(booted, "systemctl", "cat", "fossp-firstboot.service", check=False).returncode != 0  # removed itself
    listed = ssh(booted, "env", "--chdir=/", "runuser", "-u", "postgres", "--", "psql", "-Atc", "SELECT 1", "shop")
    assert listed.stdout.strip() == "1"
    status = fossp_json("status", "--target", booted.target)
    probes = [(p["name"], p["ok"]) for h in status["hosts"] for r in h["roles"] for p in r["probes"]]
    assert sorted(probes) == [("http-get", True), ("sql-query", True)]
    assert status["hosts"][0]["fossp"]["roles"] == ["FOSSP-DASPO", "FOSSP-WDSNG"]  # its os-release says so


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("container")
    profile = folder / "pgweb.yaml"
    profile.write_text(PROFILE)
    output = folder / "pgweb.oci.tar"
    key = str(LabPaths.current().key) + ".pub"
    fossp_json("container", "build", "--profile", str(profile), "-o", str(output), "--ssh-key", key, timeout=1500)
    return output


def test_the_container_archive_is_an_os_container_of_the_roles(archive: Path) -> None:
    inspected = json.loads(
        subprocess.run(
            ["skopeo", "inspect", "--config", f"oci-archive:{archive}"], capture_output=True, text=True, check=True
        ).stdout
    )
    config = inspected["config"]
    assert config["Cmd"] == ["/sbin/init"] and config["StopSignal"] == "SIGRTMIN+3"
    assert "container=oci" in config["Env"]
    assert set(config["ExposedPorts"]) == {"22/tcp", "5432/tcp", "80/tcp"}
    assert config["Labels"]["io.fossp.roles"] == "FOSSP-DASPO FOSSP-WDSNG"
    assert len(inspected["rootfs"]["diff_ids"]) == 1
    containerfile = archive.with_name(archive.name + ".Containerfile").read_text()
    assert "FROM scratch" in containerfile and "EXPOSE 5432/tcp" in containerfile
    assert not list(archive.parent.glob("*.fossp-partial"))
    assert not list((LabPaths.current().pool / "builds").glob("container-*"))  # its root went with the build


@pytest.mark.parametrize("engine", ["podman", "nspawn"])
def test_the_container_runs_with_its_roles_passing_their_probes(archive: Path, engine: str) -> None:
    result = fossp_json("container", "run", str(archive), "--engine", engine, "--name", f"im-{engine[:2]}")
    assert result["ok"] and result["engine"] == engine
    probes = sorted((p["name"], p["ok"]) for r in result["roles"] for p in r["probes"])
    assert probes == [("http-get", True), ("sql-query", True)]
    [first] = result["first_boot"]["hosts"]
    assert [op["target"] for op in first["applied"]] == ["create-database"]


def test_the_container_boots_as_a_lab_host_with_its_data_on_subvolumes(archive: Path) -> None:
    try:
        [host] = up(["im-oci"], source=archive)
        subvolumes = ssh(host, "btrfs", "subvolume", "list", "-o", "/").stdout
        for path in ("var/lib/postgresql", "var/log/postgresql", "var/log/nginx"):
            assert path in subvolumes, subvolumes
        record = _first_boot_record(host)
        assert record["hosts"][0]["states"] == {"FOSSP-DASPO": "running", "FOSSP-WDSNG": "running"}
        status = fossp_json("status", "--target", host.target)
        assert all(p["ok"] for h in status["hosts"] for r in h["roles"] for p in r["probes"])
    finally:
        down(["im-oci"])


def test_the_docker_archive_holds_the_same_os_container(tmp_path: Path) -> None:
    """`--format docker` (docker-archive, for `docker load`): the same image config."""
    profile, output = tmp_path / "pgweb.yaml", tmp_path / "pgweb.docker.tar"
    profile.write_text(PROFILE)
    made = fossp_json(
        "container", "build", "--profile", str(profile), "-o", str(output), "--format", "docker", timeout=1500
    )
    assert made["format"] == "docker" and made["output"] == str(output)
    inspect = ["skopeo", "inspect", "--config", f"docker-archive:{output}"]
    config = json.loads(subprocess.run(inspect, capture_output=True, text=True, check=True).stdout)["config"]
    assert config["Cmd"] == ["/sbin/init"] and config["Labels"]["io.fossp.roles"] == "FOSSP-DASPO FOSSP-WDSNG"
    assert set(config["ExposedPorts"]) == {"22/tcp", "5432/tcp", "80/tcp"}
    manifest = subprocess.run(["tar", "-xOf", str(output), "manifest.json"], capture_output=True, text=True, check=True)
    tags = json.loads(manifest.stdout)[0]["RepoTags"]
    assert tags == ["docker.io/library/fossp:latest"]  # `docker load` shows it as fossp:latest
