"""A whole-disk image built from a lab-base root, booted once under qemu (TCG), checked over
SSH: FOSSP's layout (@ default, /.snapshots, a nested data subvolume) and FOSSP's own
snapshot and status commands against it. Also: an interrupted build leaves nothing."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fossp.build.disk import BOOT_PACKAGES, REPO_TARGET, assemble_disk, install_boot_layer
from fossp.build.qemu import Vm, boot_image
from fossp.hosts.chroot import ChrootConnector
from fossp.lab import pool
from fossp.lab.hosts import prepare
from fossp.lab.paths import LabPaths
from fossp.lab.testing import unavailable_reason
from tests.e2e.conftest import fossp_json

pytestmark = pytest.mark.lab

DATA = "/var/lib/fossp-data"
MARKER = "written before the image was built\n"
BUILD_TOOLS = ("qemu-system-x86_64", "qemu-img", "sfdisk", "mkfs.fat", "mcopy", "grub-mkimage")
TIMES: dict[str, float] = {}


def _skip_reason() -> str | None:
    missing = [tool for tool in BUILD_TOOLS if shutil.which(tool) is None]
    if missing:
        return f"image tools missing ({', '.join(missing)}): run scripts/setup.d/build.sh"
    return unavailable_reason()


@pytest.fixture(scope="module")
def boot_root() -> Iterator[Path]:
    """A snapshot of the lab base with the boot layer and a data subvolume holding a marker."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    paths = LabPaths.current()
    prepare(paths, packages=list(BOOT_PACKAGES))
    root = paths.pool / "img-e2e"
    pool.delete_subvolume(root)
    pool.snapshot(paths.base, root)
    try:
        began = time.monotonic()
        asyncio.run(install_boot_layer(ChrootConnector(root, binds=((str(paths.repo), REPO_TARGET),))))
        TIMES["boot layer"] = time.monotonic() - began
        pool.create_subvolume(root / DATA.lstrip("/"))
        (root / DATA.lstrip("/") / "marker").write_text(MARKER)
        yield root
    finally:
        pool.delete_subvolume(root)


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    private = tmp_path_factory.mktemp("image-key") / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(private)], check=True, timeout=30)
    return private


@pytest.fixture(scope="module")
def vm(boot_root: Path, key: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vm]:
    """The image, built once and booted once for the module."""
    image = tmp_path_factory.mktemp("image") / "fossp.raw"
    began = time.monotonic()
    public = key.with_suffix(".pub").read_text().strip()
    assemble_disk(boot_root, image, 3 * 1024**3, "raw", [DATA], "imgbuilt", public)
    TIMES["assembly"] = time.monotonic() - began
    machine = boot_image(image, key, timeout=600, hostname="imge2e")
    TIMES["boot to ssh"], TIMES["boot to ready"] = machine.seconds_to_ssh, machine.seconds_to_ready
    print(f"\nimage times (s): {', '.join(f'{k} {v:.1f}' for k, v in TIMES.items())}")
    try:
        yield machine
    finally:
        machine.stop()
        image.unlink(missing_ok=True)


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
    assert _on(vm, "cat", f"{DATA}/marker") == MARKER.strip()
    assert _on(vm, "findmnt", "-n", "-o", "OPTIONS", "/.snapshots").split(",")[-1] == "subvol=/@snapshots"


def test_image_has_its_own_identity(vm: Vm) -> None:
    """A machine id and host key made at first boot; the one key known_hosts holds."""
    machine_id = _on(vm, "cat", "/etc/machine-id")
    assert len(machine_id) == 32
    assert _on(vm, "cat", "/etc/ssh/ssh_host_ed25519_key.pub").split()[:2] == vm.known_hosts.read_text().split()[1:3]


def test_fossp_snapshots_and_status_on_the_image(vm: Vm, tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.yaml"
    spec = vm.host_spec()
    inventory.write_text(
        "fossp_inventory: 1\nhosts:\n"
        f"  {spec.name}: {{address: {spec.address}, port: {spec.port}, key: '{spec.key}', "
        f"known_hosts: '{spec.known_hosts}'}}\n"
    )
    target = ("-i", str(inventory), "-t", spec.name)
    created = fossp_json("snapshot", "create", *target, "-d", "image e2e")["hosts"][0]["snapshot"]
    listed = fossp_json("snapshot", "list", *target)["hosts"][0]
    assert listed["root_subvolume_id"] == listed["default_subvolume_id"]
    assert listed["data_subvolumes"] == [DATA]
    assert [(s["number"], s["description"]) for s in listed["snapshots"]] == [(created["number"], "image e2e")]
    _on(vm, "btrfs", "subvolume", "show", f"/.snapshots/{created['number']}/snapshot")
    status = fossp_json("status", *target)
    assert status["hosts"][0]["error"] is None
    assert status["hosts"][0]["roles"] == []


def test_interrupted_build_leaves_no_file_and_no_loop_device(boot_root: Path, tmp_path: Path) -> None:
    output = tmp_path / "broken.qcow2"

    def stop_after_the_file_system(step: str, _seconds: float) -> None:
        if step == "file system":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        assemble_disk(boot_root, output, 3 * 1024**3, "qcow2", [DATA], progress=stop_after_the_file_system)
    assert list(tmp_path.iterdir()) == []
    loops = subprocess.run(["losetup", "-a"], capture_output=True, text=True, timeout=30, check=True).stdout
    assert str(tmp_path) not in loops
    with open("/proc/self/mountinfo") as mountinfo:
        assert "fossp-disk-" not in mountinfo.read()
