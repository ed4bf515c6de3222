"""Whole-disk images of a profile: the offline root (roles deployed, FOSSP's first boot
ready), the boot layer (kernel, initramfs, cloud-init) installed into it, then the disk
assembled around it: FOSSP's BTRFS layout with the roles' data folders as subvolumes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from fossp.build.disk import Format
from fossp.build.offline import BuildInput, Steps, make_root
from fossp.catalog import Family

GIB = 1024**3


def build_image(
    build: BuildInput,
    output: Path,
    fmt: Format,
    size_bytes: int,
    hostname: str,
    ssh_key: str | None,
    steps: Steps,
    force: bool = False,
) -> dict[str, Any]:
    """Build the profile's image at ``output`` (renamed there only when whole); the root
    it was made from is removed again."""
    from fossp.build.common import data_folders, exposed_ports, write_atomically
    from fossp.build.disk import (
        BOOT_PACKAGES,
        REPO_TARGET,
        assemble_disk,
        check_request,
        check_size,
        install_boot_layer,
        root_bytes,
    )
    from fossp.hosts.chroot import ChrootConnector
    from fossp.lab import pool
    from fossp.lab.paths import LabPaths

    check_request(output, fmt, hostname, ssh_key, force)
    base = LabPaths.current().base
    if base.is_dir():
        check_size(size_bytes, root_bytes(base))  # the base alone must fit: known before minutes of apt
    built = make_root(build, f"image-{output.stem}"[:40], steps, ssh_key, BOOT_PACKAGES)
    try:
        steps.step("boot layer: kernel, initramfs, cloud-init")
        repo = str(LabPaths.current().repo)
        asyncio.run(install_boot_layer(ChrootConnector(built.folder, binds=((repo, REPO_TARGET),))))
        data = data_folders([w.role for w in build.wanted], Family.DEBIAN)
        steps.step(f"disk ({fmt}, {size_bytes / GIB:g} GiB): partitions, BTRFS layout, GRUB")
        manifest = assemble_disk(
            built.folder,
            output,
            size_bytes,
            fmt,
            data,
            hostname,
            ssh_key,
            lambda name, seconds: steps.report(f"{'':10} disk: {name} in {seconds:.1f} s"),
            force,
        )
    finally:
        pool.delete_subvolume(built.folder)
    described = {
        **manifest,
        "roles": build.role_ids,
        "ports": exposed_ports([w.role for w in build.wanted]),
        **{k: v for k, v in built.summary().items() if k != "root"},
    }
    write_atomically(manifest_path(output), json.dumps(described, indent=2) + "\n")
    return described


def manifest_path(image: Path) -> Path:
    """What the image holds, beside it: `fossp image boot` forwards the ports it names."""
    return image.with_name(image.name + ".json")


def forwarded_ports(image: Path) -> tuple[str, ...]:
    """The roles' ports of an image FOSSP built (none for another image)."""
    try:
        ports = json.loads(manifest_path(image).read_text()).get("ports", [])
    except (OSError, ValueError):
        return ()
    return tuple(p for p in ports if isinstance(p, str) and p != "22/tcp")
