"""Recovery: what a run finds of an earlier one that never ended, and how it carries on.

A run killed on the controller, or whose host vanished mid-change, leaves on the host
its run record, ledger entries still marked ``intent`` (each with the undo its change
needs) and maybe a package manager still at work or a dpkg stopped midway. Every
command that reads a host names such a run (``interrupted_note``); ``deploy`` and
``decommission`` first wait for a running package manager (bounded), let dpkg finish
its interrupted work, and mark the entries ``interrupted`` (``recover``): their undo is
idempotent, so decommission can apply it whether or not the change happened, and deploy
simply plans again on the host's true state.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from fossp.engine.backends import Backend
from fossp.engine.state import RUNS_DIR, Change, ChangeStatus, HostLock, HostState, save_state
from fossp.hosts.connector import Connector, HostError
from fossp.hosts.facts import Facts, gather_facts
from fossp.hosts.timeouts import Timeouts

#: Where changes create folders that an undo or a purge can leave behind (empty).
TRACKED_FOLDERS = ("/etc", "/var/lib", "/var/log", "/srv")
#: The folders a listing walks are kept beside it (``LISTING.roots``), one per line, so
#: the check after the change (or after a crash) walks the very same ones.
_ROOTS_FROM_FILE = """
if [ -f "$l.roots" ]; then IFS='
'; set -f; set -- $(cat -- "$l.roots"); fi"""
_FIND = 'find "$@" -xdev -maxdepth 4 -type d 2>/dev/null | LC_ALL=C sort'
#: Each given path is replaced by its deepest folder that exists: a file's folder, or
#: where a new folder's parents begin.
_SAVE_LISTING = f"""l=$1; shift; mkdir -p -- "${{l%/*}}" || exit 1
for p do
  while [ -n "$p" ] && [ ! -d "$p" ]; do p=${{p%/*}}; done
  printf '%s\\n' "${{p:-/}}"
done > "$l.roots" || exit 1{_ROOTS_FROM_FILE}
{_FIND} > "$l"
"""
_CREATED_SINCE = f"""l=$1; shift; [ -f "$l" ] || exit 0{_ROOTS_FROM_FILE}
{_FIND} | LC_ALL=C comm -13 -- "$l" -"""
RMDIR_SCRIPT = 'for d do [ ! -d "$d" ] || rmdir --ignore-fail-on-non-empty -- "$d"; done'
_POLL_SECONDS = 2.0


def _roots(connector: Connector, paths: tuple[str, ...] = TRACKED_FOLDERS) -> list[str]:
    return [connector.path(p) for p in paths]


async def save_listing(connector: Connector, listing: str, paths: tuple[str, ...] = TRACKED_FOLDERS) -> None:
    """List into ``listing`` on the host the folders that exist now below ``paths`` (each
    taken at its deepest existing folder); nothing crosses the link."""
    argv = ["sh", "-c", _SAVE_LISTING, "listing", connector.path(listing), *_roots(connector, paths)]
    await connector.check(argv)


def created_folders_script(connector: Connector, listing: str) -> list[str]:
    """An argv printing the folders created since ``listing`` was saved (none if it is
    gone), below the folders that listing walked (all tracked ones for an older listing)."""
    return ["sh", "-c", _CREATED_SINCE, "created", connector.path(listing), *_roots(connector)]


def run_is_live(state: HostState, facts: Facts) -> bool:
    """The recorded run still holds the host's lock (its process is alive, or unknown)."""
    return state.run is not None and facts.lock_owner is not None and not HostLock.is_stale(facts.lock_owner)


def interrupted_note(facts: Facts, state: HostState, timeouts: Timeouts) -> list[str]:
    """What a person must know before acting on the host: a run that never ended, a
    package manager at work, dpkg stopped midway."""
    notes = []
    if state.run is not None and run_is_live(state, facts):
        notes.append(f"{state.run.describe()} is in progress (lock: {facts.lock_owner})")
    elif state.run is not None or state.unfinished:
        what = state.run.describe() if state.run else f"a run ({len(state.unfinished)} unfinished change(s))"
        notes.append(
            f"{what} did not end (killed, or its host was lost): `fossp deploy` finishes it, "
            "`fossp decommission` undoes it"
        )
    for pid, name in facts.package_managers:
        notes.append(f"{name} (pid {pid}) is running on the host; FOSSP waits up to {timeouts.package_wait:g} s for it")
    if facts.dpkg_interrupted:
        notes.append("dpkg was interrupted on the host: FOSSP runs `dpkg --configure -a` before any package work")
    notes += _upgrade_note(facts.upgrade_json)
    return notes


def _upgrade_note(record_json: str | None) -> list[str]:
    from fossp.upgrade.record import UpgradeRecord

    record = UpgradeRecord.parse(record_json)
    if record is None or not record.pending:
        return []
    stopped = f"upgrade {record.run_id} to {record.target} stopped at step '{record.step}'"
    if record.step == "rollback":
        return [f"{stopped}: `fossp upgrade restore` completes it"]
    finish = record.command or f"fossp upgrade run --to {record.to}"
    return [f"{stopped}: `{finish}` finishes it, `fossp upgrade restore` undoes it"]


async def wait_for_package_managers(connector: Connector, facts: Facts, report: Callable[[str], None]) -> Facts:
    """Wait (within ``timeouts.package_wait``) until no package manager runs on the host:
    FOSSP never starts a second one beside it, e.g. beside the apt of a killed run.
    Returns facts read after the wait (``facts`` itself when nothing ran)."""
    deadline = time.monotonic() + connector.timeouts.package_wait
    busy = facts.package_managers
    while busy:
        names = ", ".join(f"{name} (pid {pid})" for pid, name in busy)
        if time.monotonic() >= deadline:
            raise HostError(
                f"{connector.name}: {names} still running after {connector.timeouts.package_wait:g} s; "
                "FOSSP does not start a second package manager beside it (raise --timeout package_wait=SECONDS)"
            )
        report(f"waiting for {names}")
        await asyncio.sleep(_POLL_SECONDS)
        facts = await gather_facts(connector)
        busy = facts.package_managers
    return facts


async def close_unfinished(connector: Connector, changes: list[Change]) -> None:
    """Mark changes that began but never ended ``interrupted``; folders they may have
    created (since their listing) get an rmdir undo, as a finished change's would."""
    for change in changes:
        if change.folders:
            created = await connector.run(created_folders_script(connector, change.folders))
            folders = sorted((line for line in created.stdout.splitlines() if line), reverse=True)
            if created.ok and folders:
                change.undo.append(["sh", "-c", RMDIR_SCRIPT, "rmdir", *folders])
        change.status, change.folders = ChangeStatus.INTERRUPTED, None


async def recover(
    connector: Connector, facts: Facts, state: HostState, backend: Backend, report: Callable[[str], None]
) -> str | None:
    """Make the host ready for a new run after an interrupted one; say what was found.

    Saves the state when entries change; returns None when there was nothing to recover.
    """
    facts = await wait_for_package_managers(connector, facts, report)
    notes = []
    if facts.dpkg_interrupted and backend.repair_argv:
        report("finishing dpkg's interrupted work")
        await connector.check(list(backend.repair_argv), timeout=connector.timeouts.packages)
        notes.append("dpkg --configure -a finished the package work an earlier run left")
    if state.run is None and not state.unfinished:
        return "; ".join(notes) or None
    unfinished = state.unfinished
    await close_unfinished(connector, unfinished)
    what = state.run.describe() if state.run else "an earlier run"
    notes.insert(
        0,
        f"{what} did not end; {len(unfinished)} change(s) it began are in the ledger as interrupted "
        "(decommission undoes them)",
    )
    state.run = None
    await save_state(connector, state)
    await connector.run(["rm", "-rf", "--", connector.path(RUNS_DIR)])  # the listings have served
    return "; ".join(notes)
