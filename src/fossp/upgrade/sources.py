"""Where an upgrade's packages come from, and how the host's apt sources are switched.

- A **lab host** has no outside network: the controller resolves the upgrade against
  the host's dpkg status, downloads exactly those packages into a per-release flat
  repository (``/var/lib/fossp/lab/suites/<release>``, outside the lab's main
  repository, whose indexer would otherwise mix the suites) and the host reads it at
  ``/srv/fossp-suites/<release>`` (a read-only bind mount).
- **Any other host** uses its own archive: for a major release its sources name the new
  codename (Debian's documented procedure: replace ``bookworm`` with ``trixie``); a
  service pack or an interim fix uses the sources it has.

Both return the files to write on the host; the snapshot taken before holds the old ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from fossp.lifecycle.version import Level
from fossp.upgrade.facts import UpgradeFacts
from fossp.upgrade.model import SuiteSpec
from fossp.upgrade.releases import Target

LAB_SUITES = Path("/var/lib/fossp/lab/suites")
LAB_SUITES_MOUNT = "/srv/fossp-suites"
LAB_SOURCE_FILE = "/etc/apt/sources.list.d/fossp-lab.list"
UPGRADE_SOURCE_FILE = "/etc/apt/sources.list.d/fossp-upgrade.list"


@dataclass(frozen=True)
class SourceSwitch:
    """Files to write on the host (path -> new content) so apt sees the target release."""

    files: dict[str, str]
    note: str


def lab_source_switch(target: Target, spec: SuiteSpec) -> SourceSwitch:
    """A major release replaces the lab source; a service pack or fix adds the release's updates."""
    line = f"deb [trusted=yes] file:{LAB_SUITES_MOUNT}/{spec.key} ./\n"
    if target.level is Level.MAJOR:
        return SourceSwitch({LAB_SOURCE_FILE: line}, f"lab source now {LAB_SUITES_MOUNT}/{spec.key}")
    return SourceSwitch({UPGRADE_SOURCE_FILE: line}, f"lab updates from {LAB_SUITES_MOUNT}/{spec.key}")


def renamed_suites(text: str, old: str, new: str) -> str:
    """``text`` with every suite word ``old`` or ``old-*`` (bookworm-security) made ``new`` (pure)."""
    return re.sub(rf"(?<!\S){re.escape(old)}(?=(-[a-z]+)*(\s|$))", new, text)


def archive_source_switch(target: Target, facts: UpgradeFacts) -> SourceSwitch:
    """Debian's procedure: the sources name the new codename (nothing to do within a release)."""
    if target.level is not Level.MAJOR:
        return SourceSwitch({}, "the host's own sources")
    old, new = target.current.codename, target.release.codename
    files = {
        path: renamed_suites(text, old, new)
        for path, text in facts.source_files.items()
        if renamed_suites(text, old, new) != text
    }
    return SourceSwitch(files, f"sources switched from {old} to {new} in {', '.join(sorted(files)) or 'no file'}")
