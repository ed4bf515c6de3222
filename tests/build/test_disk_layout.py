"""The whole-disk image's layout as data: partition table, GRUB, fstab, size check, argv."""

from __future__ import annotations

from pathlib import Path

import pytest

from fossp.build import disk, qemu
from fossp.errors import BadInput

UUID = "0f0e0d0c-0b0a-4908-8706-050403020100"


def test_sfdisk_script() -> None:
    lines = disk.sfdisk_script().splitlines()
    assert lines[0] == "label: gpt"
    assert lines[1] == "start=1MiB, size=1MiB, type=21686148-6449-6E6F-744E-656564454649, name=bios"
    assert lines[2] == "start=2MiB, size=100MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=ESP"
    assert lines[3] == "start=102MiB, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name=root"


def test_grub_cfg_uses_uuid_never_a_device() -> None:
    text = disk.grub_cfg(UUID, "/vmlinuz", "/initrd.img")
    assert f"search --no-floppy --fs-uuid --set=root {UUID}" in text
    assert f"linux /@/vmlinuz root=UUID={UUID} ro" in text
    assert "initrd /@/initrd.img" in text
    assert "/dev/" not in text
    assert "rootflags" not in text and "subvol=" not in text  # the default subvolume is the root
    embedded = disk.embedded_cfg(UUID)
    assert f"--fs-uuid --set=root {UUID}" in embedded and "/dev/" not in embedded


def test_serial_console_is_the_last_console() -> None:
    assert disk.kernel_command_line(UUID).endswith("console=ttyS0,115200")


def test_fstab_lines() -> None:
    lines = [line for line in disk.fstab_text(UUID).splitlines() if not line.startswith("#")]
    assert lines == [
        f"UUID={UUID} / btrfs defaults 0 0",
        f"UUID={UUID} /home btrfs subvol=/@home 0 0",
        f"UUID={UUID} /.snapshots btrfs subvol=/@snapshots 0 0",
    ]


def test_size_check_names_the_minimum() -> None:
    root = 800 * disk.MIB
    needed = disk.minimum_size(root)
    disk.check_size(needed, root)
    with pytest.raises(BadInput) as error:
        disk.check_size(needed - disk.MIB, root)
    assert "needs a disk of at least 1.4 GiB" in error.value.message
    assert f"({needed // disk.MIB} MiB)" in error.value.message


def test_data_subvolumes_parents_first_and_checked() -> None:
    assert disk.data_subvolume_paths(["/var/lib/a/b", "/srv", "/var/lib/a", "/srv"]) == [
        "/srv",
        "/var/lib/a",
        "/var/lib/a/b",
    ]
    for bad in ("var/lib/x", "/var/../etc", "/", "/home/data", "/.snapshots/1", "/var//x"):
        with pytest.raises(BadInput):
            disk.data_subvolume_paths([bad])


def test_boot_files_prefer_debians_relative_links(tmp_path: Path) -> None:
    (tmp_path / "boot").mkdir()
    for name in ("vmlinuz-6.1.0-9-amd64", "initrd.img-6.1.0-9-amd64", "vmlinuz-6.1.0-10-amd64"):
        (tmp_path / "boot" / name).touch()
    with pytest.raises(BadInput, match=r"no /boot/initrd\.img-6\.1\.0-10-amd64"):
        disk.boot_files(tmp_path)
    (tmp_path / "boot" / "initrd.img-6.1.0-10-amd64").touch()
    assert disk.boot_files(tmp_path) == ("/boot/vmlinuz-6.1.0-10-amd64", "/boot/initrd.img-6.1.0-10-amd64")
    (tmp_path / "vmlinuz").symlink_to("boot/vmlinuz-6.1.0-10-amd64")
    (tmp_path / "initrd.img").symlink_to("boot/initrd.img-6.1.0-10-amd64")
    assert disk.boot_files(tmp_path) == ("/vmlinuz", "/initrd.img")


def test_assemble_argv_passes_values_as_arguments() -> None:
    argv = disk.assemble_argv(
        "/dev/loop9", Path("/t"), Path("/r; rm -rf x"), Path("/s"), Path("/d"), Path("/m"), ["/var/lib/x"]
    )
    assert argv[: argv.index("sh")] == [
        *("unshare", "--mount", "--propagation", "private", "--pid", "--fork", "--kill-child", "--"),
    ]
    assert argv[argv.index("-c") + 1] == disk.ASSEMBLE_SCRIPT
    assert argv[-7:] == ["/dev/loop9", "/t", "/r; rm -rf x", "/s", "/d", "/m", "/var/lib/x"]


def test_esp_and_seed_use_mtools_not_a_mount() -> None:
    for argv in [*disk.esp_argvs(Path("esp.img"), Path("BOOTX64.EFI")), *qemu.seed_argvs(Path("s"), [Path("u")])]:
        assert argv[0] in ("mkfs.fat", "mmd", "mcopy")
    assert qemu.seed_argvs(Path("s"), [])[0][:4] == ["mkfs.fat", "-C", "-n", "CIDATA"]


def test_qemu_argv_never_changes_the_image() -> None:
    argv = qemu.qemu_argv(Path("/i,x.raw"), "raw", Path("/seed"), Path("/c"), 2222, 1024)
    assert "file=/i,,x.raw,format=raw,if=virtio,snapshot=on" in argv
    assert "user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:2222-:22" in argv
    assert argv[argv.index("-accel") + 1].startswith("tcg")
    assert "-bios" not in argv
    uefi = qemu.qemu_argv(Path("/i"), "qcow2", Path("/seed"), Path("/c"), 2222, 1024, "uefi")
    assert uefi[uefi.index("-bios") + 1] == str(qemu.OVMF)


def test_host_key_from_the_console() -> None:
    console = "noise\r\n[ 72.6] sh[397]: fossp-host-key: ssh-ed25519 AAAA+/= root@x\nfossp-host-key: ssh-ed25519 BBBB"
    assert qemu.host_key(console) == "ssh-ed25519 BBBB"
    assert qemu.host_key("nothing yet") is None


def test_seed_has_hostname_and_key() -> None:
    texts = qemu.seed_texts("img1", "ssh-ed25519 AAAA k")
    assert texts["user-data"].startswith("#cloud-config\n")
    assert '"ssh_authorized_keys": ["ssh-ed25519 AAAA k"]' in texts["user-data"]
    assert '"local-hostname": "img1"' in texts["meta-data"]


def test_data_subvolume_never_through_a_link(tmp_path: Path) -> None:
    (tmp_path / "srv").mkdir()
    (tmp_path / "var").symlink_to("/tmp")
    disk.check_data_folders(tmp_path, ["/srv/new/data"])
    with pytest.raises(BadInput, match="is a link or a file"):
        disk.check_data_folders(tmp_path, ["/var/lib/x"])
