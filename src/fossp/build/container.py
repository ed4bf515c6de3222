"""OS containers: the offline root of a profile as an OCI image archive, systemd as PID 1.

The root FOSSP built offline becomes the image's only layer (GNU tar and umoci), its
configuration says how a systemd OS container starts and stops, and labels carry the
roles and the data folders (which a lab host unpacking it makes subvolumes again). skopeo
writes the archive under a temporary name that is renamed only when whole; beside it, a
Containerfile says the same for those who rebuild with buildah or podman.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fossp.build.common import scratch
from fossp.build.offline import BuildInput, BuiltRoot, Steps, make_root
from fossp.catalog import Family
from fossp.errors import BadInput, FosspError

Format = Literal["oci", "docker"]
TOOLS = {"umoci": "umoci", "skopeo": "skopeo"}
LABEL_ROLES = "io.fossp.roles"
LABEL_DATA = "io.fossp.data"
#: How a systemd OS container is started and stopped (systemd's container interface).
INIT = "/sbin/init"
STOP_SIGNAL = "SIGRTMIN+3"


@dataclass(frozen=True)
class ContainerImage:
    """What the archive is: its configuration, and the layer's source."""

    tag: str
    ports: list[str]
    labels: dict[str, str]
    env: tuple[str, ...] = ("container=oci",)

    def config_argv(self, layout: Path) -> list[str]:
        argv = ["umoci", "config", "--image", f"{layout}:{self.tag}", "--config.cmd", INIT]
        argv += ["--config.stopsignal", STOP_SIGNAL, "--config.workingdir", "/"]
        argv += [arg for value in self.env for arg in ("--config.env", value)]
        argv += [arg for port in self.ports for arg in ("--config.exposedports", port)]
        argv += [arg for key, value in self.labels.items() for arg in ("--config.label", f"{key}={value}")]
        return argv

    def containerfile(self, built: BuiltRoot) -> str:
        """The same image as a Containerfile: the built root as its only layer."""
        lines = [
            "# Written by `fossp build container`: the image FOSSP built, as a Containerfile.",
            "# rootfs/ is the root `fossp build root` makes of the same profile, where FOSSP's planner did:",
            *[f"#   {change}" for change in built.applied],
            *[f"# at first boot (fossp-firstboot.service): {step}" for step in built.deferred],
            "FROM scratch",
            "ADD rootfs /",
            *[f"ENV {value}" for value in self.env],
            f"STOPSIGNAL {STOP_SIGNAL}",
            *[f"EXPOSE {port}" for port in self.ports],
            *[f'LABEL {key}="{value}"' for key, value in self.labels.items()],
            f'CMD ["{INIT}"]',
        ]
        return "\n".join(lines) + "\n"


def image_for(build: BuildInput, tag: str) -> ContainerImage:
    """The image's configuration from the profile: SSH and the roles' exposed ports."""
    from fossp.build.common import data_folders, exposed_ports

    roles = [w.role for w in build.wanted]
    labels = {
        "org.opencontainers.image.title": f"FOSSP: {', '.join(r.implementation for r in roles)}",
        LABEL_ROLES: " ".join(r.id for r in roles),
        LABEL_DATA: " ".join(data_folders(roles, Family.DEBIAN)),
    }
    return ContainerImage(tag, exposed_ports(roles), labels)


def check_output(output: Path, force: bool) -> None:
    """Before any work: a writable folder, no file overwritten unasked, the tools there."""
    if output.exists() and not force:
        raise BadInput(f"{output}: exists; give --force to replace it")
    if not output.parent.is_dir():
        raise BadInput(f"{output}: folder {output.parent} does not exist")
    missing = [package for tool, package in TOOLS.items() if shutil.which(tool) is None]
    if missing:
        raise BadInput(f"building a container needs {', '.join(missing)} (apt install {' '.join(missing)})")


def _run(argv: list[str], what: str, timeout: float = 900) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        raise FosspError(f"{what}: `{' '.join(argv[:3])} ...` exited {result.returncode}: {result.stderr[-800:]}")


def build_container(
    build: BuildInput, output: Path, fmt: Format, tag: str, steps: Steps, ssh_key: str | None = None
) -> dict[str, Any]:
    """Build the profile's root, then the archive at ``output`` (and OUTPUT.Containerfile)."""
    from fossp.lab import pool

    image = image_for(build, tag)
    built = make_root(build, f"container-{output.stem}"[:40], steps, ssh_key)
    partial = output.with_name(f".{output.name}.fossp-partial")
    try:
        with scratch("container") as work:
            layout = work / "layout"
            steps.step("image layer from the root (GNU tar, umoci)")
            layer = work / "layer.tar"
            # GNU tar, not `umoci insert`: umoci takes files of two subvolumes with one inode
            # number (every subvolume's numbers start again) for hard links of each other.
            tar = ["tar", "-C", str(built.folder), "--numeric-owner", "--xattrs", "--xattrs-include=*", "-cpf"]
            _run([*tar, str(layer), "."], "tar the root", timeout=1800)
            _run(["umoci", "init", "--layout", str(layout)], "umoci init")
            _run(["umoci", "new", "--image", f"{layout}:{tag}"], "umoci new")
            _run(["umoci", "raw", "add-layer", "--image", f"{layout}:{tag}", str(layer)], "umoci raw add-layer")
            _run(image.config_argv(layout), "umoci config")
            steps.step(f"{fmt} archive (skopeo)")
            partial.unlink(missing_ok=True)
            destination = f"oci-archive:{partial}:{tag}" if fmt == "oci" else f"docker-archive:{partial}:fossp:{tag}"
            _run(["skopeo", "copy", "--quiet", f"oci:{layout}:{tag}", destination], "skopeo copy")
            output.with_name(f"{output.name}.Containerfile").write_text(image.containerfile(built))
            partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)
        pool.delete_subvolume(built.folder)
    return {
        "output": str(output),
        "format": fmt,
        "tag": tag,
        "containerfile": f"{output}.Containerfile",
        "ports": image.ports,
        "labels": image.labels,
        **{k: v for k, v in built.summary().items() if k != "root"},
    }


def unpack_archive(archive: Path, root: Path) -> dict[str, str]:
    """Unpack an archive FOSSP built into ``root`` (a new, empty subvolume), its data
    folders made subvolumes again first; returns the image's labels."""
    import json

    from fossp.lab import pool

    with scratch("unpack") as work:
        layout = work / "layout"
        _run(["skopeo", "copy", "--quiet", _archive_ref(archive), f"oci:{layout}:fossp"], f"read {archive}")
        index = json.loads((layout / "index.json").read_text())
        manifest = json.loads(_blob(layout, index["manifests"][0]["digest"]).read_text())
        config = json.loads(_blob(layout, manifest["config"]["digest"]).read_text())
        labels: dict[str, str] = config.get("config", {}).get("Labels") or {}
        if LABEL_ROLES not in labels or len(manifest["layers"]) != 1:
            raise BadInput(f"{archive}: not an OS container FOSSP built (one layer, label {LABEL_ROLES})")
        for path in labels.get(LABEL_DATA, "").split():
            target = pool.real_path(root, Path(path.lstrip("/")))
            target.parent.mkdir(parents=True, exist_ok=True)
            pool.create_subvolume(target)
        layer = _blob(layout, manifest["layers"][0]["digest"])
        tar = ["tar", "-x", "-f", str(layer), "-C", str(root), "--numeric-owner", "-p"]
        _run([*tar, "--xattrs", "--xattrs-include=*"], f"unpack {archive}", timeout=1800)
        return labels


def _archive_ref(archive: Path) -> str:
    """skopeo's name for the archive: OCI or docker, by the files inside."""
    import tarfile

    try:
        with tarfile.open(archive) as tar:
            names = set(tar.getnames())
    except (OSError, tarfile.TarError) as error:
        raise BadInput(f"{archive}: not an image archive ({error})") from None
    if "index.json" in names or "./index.json" in names:
        return f"oci-archive:{archive}"
    if "manifest.json" in names:
        return f"docker-archive:{archive}"
    raise BadInput(f"{archive}: neither an OCI nor a docker image archive")


def _blob(layout: Path, digest: str) -> Path:
    algorithm, _, value = digest.partition(":")
    if algorithm != "sha256" or not value.isalnum():
        raise BadInput(f"image digest {digest!r}: not a sha256 digest")
    return layout / "blobs" / algorithm / value
