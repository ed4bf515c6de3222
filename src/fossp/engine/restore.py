"""Restore: return a host to one of its snapshots (packages, /etc, units, FOSSP's state).

Always first a read-only, important "before restore to N" snapshot of the current root,
so a restore can itself be undone. Then, as snapper's rollback does:

- on a machine that boots (not a container): a writable copy of N becomes snapshot M and
  the file system's default subvolume; it takes effect at the next boot. Nested
  subvolumes of the current root (data such as /var/lib/postgresql, and /.snapshots)
  are not part of any snapshot: M's /etc/fstab mounts them where they were, so they are
  kept. FOSSP refuses hosts that do not boot the default subvolume (root named with
  ``subvol=``), where switching it would change nothing.
- on a container (a lab host): never ``set-default`` (that is the whole pool's); FOSSP
  writes N into /.snapshots/fossp-next-root and ``fossp lab restart NAME`` makes a
  writable copy of N the host's root, moving its data subvolumes into it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fossp.engine.snapshot import (
    NEXT_ROOT_FILE,
    SNAPSHOTS_DIR,
    FileChange,
    PackageChanges,
    Snapshot,
    SnapshotFacts,
    Subvolume,
    _create,
    check_free_space,
    diff_snapshots,
    gather_snapshot_facts,
    require_btrfs,
    take_snapshot,
)
from fossp.errors import BadInput
from fossp.hosts.connector import Connector, HostError

#: What the preview compares file by file (packages are compared in full).
PREVIEW_PATHS = ("/etc", "/var/lib/fossp")
FOSSP_STATE = "/var/lib/fossp"


@dataclass
class RestorePreview:
    """What a restore to ``number`` reverts and what it keeps, before anything changes."""

    host: str
    number: int
    snapshot: Snapshot
    #: From the snapshot to now: on restore, ``added`` packages go, ``removed`` come back,
    #: ``changed`` return to the snapshot's version.
    packages: PackageChanges
    etc_files: list[FileChange]
    fossp_state: list[FileChange]
    kept: list[str]  # data subvolumes (and /.snapshots): never reverted
    method: str  # "set-default" (next boot) or "lab-restart"
    takes_effect: str
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        return {
            "host": self.host,
            "number": self.number,
            "snapshot": self.snapshot.summary(),
            "packages": self.packages.summary(),
            "etc_files": [{"path": f.path, "change": f.change, "what": list(f.what)} for f in self.etc_files],
            "fossp_state": [{"path": f.path, "change": f.change, "what": list(f.what)} for f in self.fossp_state],
            "kept": self.kept,
            "method": self.method,
            "takes_effect": self.takes_effect,
            "notes": self.notes,
        }


@dataclass
class RestoreOutcome:
    """What a restore did and how it takes effect."""

    host: str
    number: int
    backup: int  # the "before restore" snapshot
    method: str  # "set-default" or "lab-restart"
    takes_effect: str
    new_root: int | None = None  # the writable copy made the default (set-default)
    kept: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        return {
            "host": self.host,
            "number": self.number,
            "backup": self.backup,
            "method": self.method,
            "new_root": self.new_root,
            "takes_effect": self.takes_effect,
            "kept": self.kept,
        }


def lab_name(host: str) -> str:
    return host.removeprefix("lab:")


def restore_method(facts: SnapshotFacts) -> tuple[str, str]:
    """How a restore takes effect on this host: (method, sentence); BadInput where it cannot."""
    if facts.container and facts.container != "fossp-lab":
        raise BadInput(
            f"{facts.host}: a {facts.container} container: its root is switched by its own manager, not by "
            "FOSSP (only lab hosts take a pending root); nothing changed"
        )
    if facts.container:
        return (
            "lab-restart",
            f"at the host's next start: run `fossp lab restart {lab_name(facts.host)}` "
            f"(container {facts.container}: FOSSP never switches the default subvolume of a shared pool)",
        )
    if facts.root_id is None or facts.default_id is None:
        raise BadInput(f"{facts.host}: cannot read the root's or the default subvolume; restore refused")
    if not facts.fs_uuid:
        raise BadInput(f"{facts.host}: cannot read the root file system's UUID (for fstab); restore refused")
    if facts.root_id != facts.default_id:
        raise BadInput(
            f"{facts.host}: runs on subvolume {facts.root_id} ({facts.root_path}) but the default subvolume is "
            f"{facts.default_id}: its boot names the root (subvol= or rootflags=), so switching the default would "
            "not take effect; FOSSP does not restore such hosts; nothing changed"
        )
    return "set-default", "at the next boot: reboot the host (the running system is left as it is until then)"


def check_restorable(facts: SnapshotFacts, number: int) -> Snapshot:
    """The snapshot to restore; BadInput (nothing changed) when there is none to restore."""
    require_btrfs(facts)
    if not facts.snapshots:
        raise BadInput(f"{facts.host}: has no snapshots: nothing to restore (nothing changed)")
    snap = facts.snapshot(number)
    if snap is None or number == 0:
        raise BadInput(f"{facts.host}: no snapshot {number} (see `fossp snapshot list`); nothing changed")
    if not snap.present:
        raise BadInput(f"{facts.host}: snapshot {number} has no subvolume (half made or half deleted); nothing changed")
    if snap.running:
        raise BadInput(f"{facts.host}: snapshot {number} is the running root already; nothing changed")
    return snap


async def restore_preview(connector: Connector, number: int, *, facts: SnapshotFacts | None = None) -> RestorePreview:
    """What ``restore`` would revert (packages, /etc, FOSSP's state) and keep (data subvolumes)."""
    facts = facts or await gather_snapshot_facts(connector)
    snap = check_restorable(facts, number)
    method, takes_effect = restore_method(facts)
    diff = await diff_snapshots(connector, number, 0, PREVIEW_PATHS, facts=facts)
    notes = []
    if facts.next_root is not None:
        notes.append(f"a restore to {facts.next_root} already waits for a restart; this one replaces it")
    if method == "set-default" and facts.snapper_config is None and not facts.snapshots_subvolume:
        notes.append("/.snapshots is not a subvolume here")
    return RestorePreview(
        host=connector.name,
        number=number,
        snapshot=snap,
        packages=diff.packages,
        etc_files=[f for f in diff.files if f.path == "/etc" or f.path.startswith("/etc/")],
        fossp_state=[f for f in diff.files if f.path.startswith(FOSSP_STATE)],
        kept=_kept(facts),
        method=method,
        takes_effect=takes_effect,
        notes=notes,
    )


def _kept(facts: SnapshotFacts) -> list[str]:
    return [s.path for s in facts.subvolumes]


async def restore(connector: Connector, number: int, run_id: str) -> RestoreOutcome:
    """Return the host to snapshot ``number`` (see the module's docstring for how).

    Refused with nothing changed (BadInput) for an unknown snapshot, a host without
    snapshots or without a BTRFS root; (HostError) with too little free space.
    """
    from fossp.engine.state import HostLock

    async with HostLock(connector):
        return await restore_locked(connector, number, run_id)


async def restore_locked(connector: Connector, number: int, run_id: str) -> RestoreOutcome:
    """:func:`restore` for a caller that holds the host lock already (an upgrade's rollback)."""
    facts = await gather_snapshot_facts(connector)
    check_restorable(facts, number)
    method, takes_effect = restore_method(facts)
    check_free_space(facts)
    backup = await take_snapshot(
        connector, "single", f"before restore to {number}", run_id, cleanup="number", important=True, facts=facts
    )
    outcome = RestoreOutcome(connector.name, number, backup.number, method, takes_effect, kept=_kept(facts))
    if method == "lab-restart":
        await connector.write_file(NEXT_ROOT_FILE, f"{number}\n".encode(), 0o644)
        return outcome
    copy = await _create(
        connector,
        "single",
        f"writable copy of {number} (restore)",
        run_id,
        "",
        False,
        None,
        facts,
        0,
        writable_from=number,
    )
    root = f"{SNAPSHOTS_DIR}/{copy.number}/snapshot"
    await _mount_kept_subvolumes(connector, facts, root)
    found = await connector.check(["btrfs", "inspect-internal", "rootid", root])
    subvolume_id = found.stdout.strip()
    if not subvolume_id.isdigit():
        raise HostError(f"{connector.name}: cannot read the subvolume id of {root}: {found.describe()}")
    await connector.check(["btrfs", "subvolume", "set-default", subvolume_id, "/"])
    outcome.new_root = copy.number
    return outcome


async def _mount_kept_subvolumes(connector: Connector, facts: SnapshotFacts, root: str) -> None:
    """Nested subvolumes stay in the old root: the new root's fstab mounts them there."""
    nested = list(facts.subvolumes)
    if facts.snapshots_subvolume and facts.root_id is not None:
        nested.append(Subvolume(0, SNAPSHOTS_DIR))
    if not nested:
        return
    current = await connector.run(["cat", "--", f"{root}/etc/fstab"])
    text = current.stdout if current.ok else ""
    wanted = fstab_with_subvolumes(text, facts.fs_uuid, facts.root_path, nested)
    if wanted != text:
        await connector.write_file(f"{root}/etc/fstab", wanted.encode(), 0o644)


def fstab_with_subvolumes(fstab: str, fs_uuid: str, root_path: str, subvolumes: list[Subvolume]) -> str:
    """``fstab`` plus a line mounting each subvolume at its path, unless a line mounts it already (pure)."""
    if not fs_uuid:
        raise HostError("cannot read the root file system's UUID; restore refused before switching the default")
    mounted = {fields[1] for fields in (line.split() for line in fstab.splitlines()) if fields and len(fields) > 1}
    top = "" if root_path in ("", "/", "<FS_TREE>") else "/" + root_path.strip("/")
    lines = [
        f"UUID={fs_uuid} {s.path} btrfs subvol={top}{s.path} 0 0"
        for s in subvolumes
        if s.path not in mounted and not s.path.startswith("/.snapshots/")
    ]
    if not lines:
        return fstab
    body = fstab if not fstab or fstab.endswith("\n") else fstab + "\n"
    return body + "# subvolumes kept by fossp restore (they stay where they were)\n" + "\n".join(lines) + "\n"
