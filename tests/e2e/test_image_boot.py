"""A whole-disk image of a profile (PostgreSQL and nginx), built once by `fossp image build`
and booted once under qemu (TCG): FOSSP's layout (@ default, /.snapshots, the roles' data on
subvolumes of their own), the first boot finishing the roles, and FOSSP's own probes, snapshot
and status commands passing against it. Also: an interrupted build leaves nothing."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fossp.build.disk import assemble_disk
from fossp.build.image import forwarded_ports
from fossp.build.qemu import Vm, boot_image
from fossp.lab import pool
from fossp.lab.hosts import prepare
from fossp.lab.paths import LabPaths
from fossp.lab.testing import unavailable_reason
from tests.e2e.conftest import fossp_json

pytestmark = pytest.mark.lab

PROFILE = "fossp_profile: 1\nroles:\n  - id: FOSSP-DASPO\n    settings: {database: shop}\n  - id: FOSSP-WDSNG\n"
DATA = "/var/lib/postgresql"
BUILD_TOOLS = ("qemu-system-x86_64", "qemu-img", "sfdisk", "mkfs.fat", "mcopy", "grub-mkimage")
TIMES: dict[str, float] = {}


def _skip_reason() -> str | None:
    missing = [tool for tool in BUILD_TOOLS if shutil.which(tool) is None]
    if missing:
        return f"image tools missing ({', '.join(missing)}): run scripts/setup.d/build.sh"
    return unavailable_reason()


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    private = tmp_path_factory.mktemp("image-key") / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(private)], check=True, timeout=30)
    return private


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    folder = tmp_path_factory.mktemp("image")
    profile = folder / "pgweb.yaml"
    profile.write_text(PROFILE)
    output = folder / "pgweb.qcow2"
    began = time.monotonic()
    args = ["image", "build", "--profile", str(profile), "-o", str(output), "--format", "qcow2", "--size", "3"]
    fossp_json(*args, timeout=1800)
    TIMES["build"] = time.monotonic() - began
    return output


@pytest.fixture(scope="module")
def vm(image: Path, key: Path) -> Iterator[Vm]:
    """The image booted once for the module (its roles' ports forwarded, as `fossp image boot` does)."""
    machine = boot_image(image, key, timeout=900, hostname="imge2e", forwards=forwarded_ports(image))
    TIMES["boot to ssh"], TIMES["boot to ready"] = machine.seconds_to_ssh, machine.seconds_to_ready
    print(f"\nimage times (s): {', '.join(f'{k} {v:.1f}' for k, v in TIMES.items())}")
    try:
        yield machine
    finally:
        machine.stop()


def test_the_manifest_names_the_roles_ports_and_layout(image: Path) -> None:
    manifest = json.loads(image.with_name(image.name + ".json").read_text())
    assert manifest["roles"] == ["FOSSP-DASPO", "FOSSP-WDSNG"] and manifest["format"] == "qcow2"
    assert manifest["ports"] == ["22/tcp", "5432/tcp", "80/tcp"]
    assert sorted(manifest["data_subvolumes"]) == ["/var/lib/postgresql", "/var/log/nginx", "/var/log/postgresql"]
    assert manifest["deferred_to_first_boot"] == ["FOSSP-DASPO create-database"]
    assert not list(image.parent.glob("*.fossp-partial*"))
    assert not list((LabPaths.current().pool / "builds").glob("image-*"))  # its root went with the build


def test_the_first_boot_finished_the_roles_and_their_probes_pass(vm: Vm, tmp_path: Path) -> None:
    record = json.loads(_on(vm, "cat", "/var/lib/fossp/firstboot/record.json"))
    assert record["hosts"][0]["states"] == {"FOSSP-DASPO": "running", "FOSSP-WDSNG": "running"}
    assert _on(vm, "env", "--chdir=/", "runuser", "-u", "postgres", "--", "psql", "-Atc", "SELECT 1", "shop") == "1"
    assert 'FOSSP_ROLES="FOSSP-DASPO FOSSP-WDSNG"' in _on(vm, "cat", "/etc/os-release")
    status = fossp_json("status", *_target(vm, tmp_path))
    probes = sorted((p["name"], p["ok"]) for h in status["hosts"] for r in h["roles"] for p in r["probes"])
    assert probes == [("http-get", True), ("sql-query", True)]  # from the controller, through the forwards


def _on(vm: Vm, *command: str) -> str:
    result = vm.ssh(*command)
    assert result.returncode == 0, f"{' '.join(command)}: {result.stdout}{result.stderr}"
    return result.stdout.strip()


def test_image_boots_with_the_seeds_name_and_fossp_layout(vm: Vm) -> None:
    assert vm.system_state in ("running", "degraded"), vm.system_state
    assert _on(vm, "hostname") == "imge2e"
    assert "subvol=/@" in _on(vm, "findmnt", "-n", "-o", "OPTIONS", "/").split(",")
    assert _on(vm, "btrfs", "subvolume", "get-default", "/").endswith(" path @")
    assert _on(vm, "stat", "-c", "%i", "/.snapshots", DATA) == "256\n256"
    assert f"path @{DATA}" in _on(vm, "btrfs", "subvolume", "list", "-o", "/")
    assert _on(vm, "cat", f"{DATA}/15/main/PG_VERSION") == "15"
    assert _on(vm, "findmnt", "-n", "-o", "OPTIONS", "/.snapshots").split(",")[-1] == "subvol=/@snapshots"


def test_image_has_its_own_identity(vm: Vm) -> None:
    """A machine id and host key made at first boot; the one key known_hosts holds."""
    machine_id = _on(vm, "cat", "/etc/machine-id")
    assert len(machine_id) == 32
    assert _on(vm, "cat", "/etc/ssh/ssh_host_ed25519_key.pub").split()[:2] == vm.known_hosts.read_text().split()[1:3]


def _target(vm: Vm, folder: Path) -> tuple[str, ...]:
    inventory = folder / "inventory.yaml"
    spec = vm.host_spec()
    inventory.write_text(
        "fossp_inventory: 1\nhosts:\n"
        f"  {spec.name}: {{address: {spec.address}, port: {spec.port}, key: '{spec.key}', "
        f"known_hosts: '{spec.known_hosts}'}}\n"
    )
    return ("-i", str(inventory), "-t", spec.name)


def test_fossp_snapshots_on_the_image(vm: Vm, tmp_path: Path) -> None:
    target = _target(vm, tmp_path)
    created = fossp_json("snapshot", "create", *target, "-d", "image e2e")["hosts"][0]["snapshot"]
    listed = fossp_json("snapshot", "list", *target)["hosts"][0]
    assert listed["root_subvolume_id"] == listed["default_subvolume_id"]
    assert DATA in listed["data_subvolumes"]
    assert (created["number"], "image e2e") in [(s["number"], s["description"]) for s in listed["snapshots"]]
    _on(vm, "btrfs", "subvolume", "show", f"/.snapshots/{created['number']}/snapshot")


@pytest.fixture
def fake_root() -> Iterator[Path]:
    """A snapshot of the lab base with a stand-in kernel: enough for the steps before GRUB."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    paths = LabPaths.current()
    prepare(paths)
    root = paths.pool / "img-interrupted"
    pool.delete_subvolume(root)
    pool.snapshot(paths.base, root)
    for name in ("vmlinuz-6.1.0-0-amd64", "initrd.img-6.1.0-0-amd64"):
        (root / "boot" / name).write_text("stand-in\n")
    yield root
    pool.delete_subvolume(root)


def test_interrupted_build_leaves_no_file_and_no_loop_device(fake_root: Path, tmp_path: Path) -> None:
    output = tmp_path / "broken.qcow2"

    def stop_after_the_file_system(step: str, _seconds: float) -> None:
        if step == "file system":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        assemble_disk(fake_root, output, 3 * 1024**3, "qcow2", [DATA], progress=stop_after_the_file_system)
    assert list(tmp_path.iterdir()) == []
    loops = subprocess.run(["losetup", "-a"], capture_output=True, text=True, timeout=30, check=True).stdout
    assert str(tmp_path) not in loops
    with open("/proc/self/mountinfo") as mountinfo:
        assert "fossp-disk-" not in mountinfo.read()
