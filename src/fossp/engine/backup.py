"""Backups of every role's data through a Bacula director deployed as the role bacula.

Registration (the platform's setting ``backup_director=HOST``, which ``fossp platform
apply --backup-director HOST`` gives too) writes, through the engine (plan, dry run,
ledger, undo by decommission), one file per registered host on the director, which its
bacula-dir.conf includes: the host's file daemon as a Client and, per role deployed
there, a FileSet from the role's ``backup_paths`` for the host's
family and a Job ``ROLE-on-HOST``. A role whose recipe dumps its data (PostgreSQL's
pg_dumpall, MariaDB's mariadb-dump) or that declares ``backup_prepare``/``backup_finish``
(BIND's rndc freeze/thaw) gets them as the job's client run scripts, the dump written into
a folder the file set includes. On the host itself a record names the director and the
jobs, so ``fossp backup run|list|restore`` find them, and every later deploy or
decommission on the host (which reads the record with its facts) registers its roles again.

The pure parts (what a role's job backs up, the director's file, bconsole's answers)
are here with the remote ones (bconsole over the director's SSH connection, bounded).
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fossp.catalog.schema import Family, Role
from fossp.engine.recipe import FileSpec, fill, load_recipe, resolve_vars
from fossp.engine.state import HostState, InstanceState
from fossp.errors import BadInput, Finding
from fossp.hosts.connector import Connector, HostError
from fossp.hosts.facts import Facts

#: Where a role's consistent copy (its dump) is written on the host; the job's file set includes it.
DUMP_ROOT = "/var/lib/fossp/backup-dumps"
#: Where a restore that loads a dump puts the restored files first.
SCRATCH = "/var/tmp/fossp-backup-restore"
#: The director's folder of registered hosts (bacula-dir.conf includes every file in it).
REGISTERED = "/etc/bacula/fossp.d"
#: The host's record of its director and jobs.
RECORD = "/etc/fossp/backup.json"
BACULA = "bacula"
#: The platform's setting that names the director host a run registers the host with.
BACKUP_DIRECTOR = "backup_director"
DIRECTOR_PART = "director"
#: The director's unit (Debian's name, Fedora's): only it reads the registered hosts' files.
DIRECTOR_UNITS = ["bacula-director.service", "bacula-dir.service"]
#: A bconsole session's bound (seconds); a director that does not answer ends it.
CONSOLE_SECONDS = 30
_JOB_QUEUED = re.compile(r"Job queued\. JobId=(\d+)")
_NOT_CONNECTED = re.compile(r"(Failed to connect|Connection refused|authorization problem|ERR=[^\n]*)", re.I)
#: Bacula's job status letters: ended well, ended badly; every other one is still under way.
DONE_OK = {"T": "ok", "W": "ok, with warnings"}
DONE_BAD = {"E": "error", "e": "non-fatal error", "f": "fatal error", "A": "cancelled"}


def short_name(host: str) -> str:
    """A daemon's host part: the host name without the lab's ``lab:`` and any domain."""
    return host.split(":")[-1].split(".")[0]


def client_name(host: str) -> str:
    return f"{short_name(host)}-fd"


def job_name(role_name: str, host: str) -> str:
    return f"{role_name}-on-{short_name(host)}"


@dataclass(frozen=True)
class Dump:
    """A consistent copy: ``argv`` prints it, written to ``path``; ``restore`` reads it on stdin."""

    argv: list[str]
    path: str
    restore: list[str]


@dataclass(frozen=True)
class RoleBackup:
    """What the job of one role on one host backs up, and its steps before and after."""

    role: Role
    paths: list[str]
    dumps: list[Dump] = field(default_factory=list)

    @property
    def folder(self) -> str:
        return f"{DUMP_ROOT}/{self.role.name}"

    @property
    def files(self) -> list[str]:
        return [*self.paths, self.folder] if self.dumps else list(self.paths)

    def before(self) -> str | None:
        """The shell script the file daemon runs before the job (None: nothing to do):
        the role's prepare step, then each dump into a file renamed only once whole."""
        lines = [shlex.join(self.role.backup_prepare)] if self.role.backup_prepare else []
        if self.dumps:
            lines.insert(0, f"mkdir -p -m 700 {shlex.quote(self.folder)}")
        for dump in self.dumps:
            partial = shlex.quote(dump.path + ".part")
            lines.append(f"{shlex.join(dump.argv)} > {partial}")
            lines.append(f"mv -f {partial} {shlex.quote(dump.path)}")
        return "set -e\n" + "\n".join(lines) + "\n" if lines else None

    def after(self) -> str | None:
        return shlex.join(self.role.backup_finish) + "\n" if self.role.backup_finish else None


def role_backup(role: Role, family: Family, settings: dict[str, Any], host: str) -> RoleBackup:
    """The backup of ``role`` on a host of ``family``: its ``backup_paths`` and its
    recipe's dumps (their placeholders filled from the role's settings). A role that
    declares no paths is a finding: there is nothing to back up."""
    paths = role.backup_paths.get(family) or []
    if not paths:
        raise Finding(
            f"{host}: {role.name} ({role.id}) declares no backup_paths for {family.value}: nothing to back up"
        )
    recipe = load_recipe(role.name).for_family(family)
    values = resolve_vars(recipe, settings, None)
    dumps = []
    for data in recipe.data:
        if data.dump is None:
            continue
        argv, restore = [fill(a, values) for a in data.dump.argv], [fill(a, values) for a in data.dump.restore]
        if None in argv or None in restore:
            raise BadInput(f"{host}: {role.name}'s dump needs values only the host knows: {data.dump.argv}")
        dumps.append(
            Dump([a for a in argv if a], f"{DUMP_ROOT}/{role.name}/{data.dump.file}", [a for a in restore if a])
        )
    return RoleBackup(role, paths, dumps)


def bacula_command(script: str) -> str:
    """A shell script as a Bacula RunScript command: Bacula splits a command at spaces
    (quotes group) and expands ``%`` codes, so the script travels in base64, which has
    neither, and the file daemon's shell decodes it."""
    encoded = base64.b64encode(script.encode()).decode()
    return f"/bin/sh -c 'echo {encoded} | base64 -d | /bin/sh'"


def job_entry(backup: RoleBackup, host: str) -> dict[str, Any]:
    """One role's job as the director's template reads it."""
    before, after = backup.before(), backup.after()
    steps = [
        *(["its prepare step"] if backup.role.backup_prepare else []),
        *(f"dumps into {d.path}" for d in backup.dumps),
    ]
    return {
        "role": backup.role.id,
        "name": job_name(backup.role.name, host),
        "files": backup.files,
        "before": bacula_command(before) if before else None,
        "before_why": f"before the job, {backup.role.name} {' and '.join(steps)}" if steps else None,
        "after": bacula_command(after) if after else None,
    }


@dataclass
class Registration:
    """What registering one host gives the director and records on the host."""

    host: str
    address: str
    family: Family
    password: str | None  # None: the host is a member of the bacula role, whose Client the director has
    backups: list[RoleBackup]
    skipped: list[str]  # why a deployed role has no job

    def director_values(self, file_retention_days: int) -> dict[str, Any]:
        client = {
            "host": self.host,
            "name": client_name(self.host),
            "address": self.address,
            "password": self.password,
            "jobs": [job_entry(b, self.host) for b in self.backups],
        }
        return {"client": client, "file_retention_days": file_retention_days}

    def record(self, director: str) -> dict[str, Any]:
        jobs = {b.role.name: job_name(b.role.name, self.host) for b in self.backups}
        return {"fossp_backup": 1, "director": director, "client": client_name(self.host), "jobs": jobs}


def registration(
    host: str, address: str, family: Family, state: HostState, roles: dict[str, Role], password: str | None
) -> Registration:
    """The host's file daemon (with ``password``, the director's Client for it) and one
    backup per role deployed on it (running or ready); a role without backup_paths gets no
    job, and is named. A member of the bacula role has its Client from that role already."""
    backups, skipped = [], []
    deployed = [i for i in state.instances.values() if i.state in (InstanceState.RUNNING, InstanceState.READY)]
    for instance in deployed:
        role = roles.get(instance.role_id)
        if role is None:
            continue
        try:
            backups.append(role_backup(role, family, instance.settings, host))
        except Finding as finding:
            skipped.append(finding.message)
    member = any(i.role_name == BACULA for i in state.instances.values())
    return Registration(host, address, family, None if member else password, backups, skipped)


def registered_file(host: str) -> FileSpec:
    """The director's file for one registered host (0640: it holds the file daemon's password)."""
    return FileSpec(
        path=f"{REGISTERED}/{short_name(host)}.conf",
        template="bacula/registered-host.conf.j2",
        mode="640",
        owner="root:bacula",
        restart=DIRECTOR_UNITS,
        why=f"{short_name(host)}'s file daemon and a job per role deployed there",
    )


def record_file() -> FileSpec:
    return FileSpec(
        path=RECORD,
        template="bacula/backup-client.json.j2",
        mode="644",
        reload=False,
        why="names this host's backup director and its jobs, for `fossp backup`",
    )


def read_record(text: bytes | None, host: str) -> dict[str, Any]:
    """The host's backup record; a host never registered is a finding (exit 1)."""
    if not text:
        raise Finding(
            f"{host}: no backup director is registered for this host; run `fossp platform apply "
            f"--target {host} --set {BACKUP_DIRECTOR}=HOST` first"
        )
    try:
        record = json.loads(text)
    except ValueError:
        raise Finding(
            f"{host}: {RECORD} is not JSON; run `fossp platform apply --set {BACKUP_DIRECTOR}=HOST` again"
        ) from None
    if not isinstance(record, dict) or record.get("fossp_backup") != 1:
        raise Finding(f"{host}: {RECORD} is not a FOSSP backup record")
    return record


def registered_director(facts: Facts) -> str | None:
    """The director the host's record (read with its facts) names; None: never
    registered, or a record that is not FOSSP's (`fossp backup` commands say which)."""
    found = facts.files.get(RECORD)
    try:
        director = read_record(found.content if found else None, facts.host).get("director")
    except Finding:
        return None
    return director if isinstance(director, str) and director else None


# --- bconsole's answers


def queued_job(text: str) -> int | None:
    """The id of the job bconsole says it queued."""
    found = _JOB_QUEUED.search(text)
    return int(found.group(1)) if found else None


def parse_llist(text: str) -> list[dict[str, str]]:
    """``llist`` records (blank-line separated ``Key: value`` lines) as dicts with
    lowercase keys; a record starts at each ``JobId`` line."""
    records: list[dict[str, str]] = []
    for line in text.splitlines():
        key, colon, value = line.strip().partition(":")
        if not colon or not key or " " in key:
            continue
        key = key.lower()
        if key == "jobid":
            records.append({})
        if records:
            records[-1].setdefault(key, value.strip())
    return records


def job_row(record: dict[str, str]) -> dict[str, Any]:
    """One job of ``llist jobs`` as FOSSP shows it."""
    status = record.get("jobstatus", "")
    return {
        "job_id": _number(record.get("jobid")),
        "name": record.get("name", ""),
        "type": {"B": "backup", "R": "restore"}.get(record.get("type", ""), record.get("type", "")),
        "level": record.get("level", ""),
        "status": DONE_OK.get(status) or DONE_BAD.get(status) or "running",
        "started": record.get("starttime", ""),
        "files": _number(record.get("jobfiles")),
        "bytes": _number(record.get("jobbytes")),
    }


def _number(text: str | None) -> int:
    """A count as bconsole prints it (with thousands commas)."""
    digits = (text or "").replace(",", "")
    return int(digits) if digits.isdigit() else 0


def console_failure(text: str, director: str) -> str | None:
    """Why bconsole reached no director, from what it printed (None: the director
    answered, ``1000 OK``)."""
    if "1000 OK" in text:
        return None
    found = _NOT_CONNECTED.search(text)
    why = found.group(1).strip() if found else "no answer"
    return f"{director}: the Bacula director does not answer bconsole: {why}"


# --- the director, over SSH


@dataclass
class Director:
    """A bconsole session per call on the director's host, each bounded."""

    connector: Connector
    name: str

    async def console(self, commands: list[str], seconds: int = CONSOLE_SECONDS) -> str:
        """bconsole with ``commands`` on its standard input (it reads its password from
        its own 0640 configuration; nothing secret goes over the command line)."""
        argv = ["timeout", str(seconds), "bconsole"]
        done = await self.connector.run(argv, stdin=("\n".join(commands) + "\nquit\n").encode(), timeout=seconds + 15)
        text = done.stdout
        failure = console_failure(text, self.name)
        if failure or done.exit_status == 124:
            raise Finding(failure or f"{self.name}: bconsole did not finish within {seconds} s (the director hangs?)")
        return text

    async def jobs(self, client: str) -> list[dict[str, Any]]:
        text = await self.console([f"llist jobs client={client}"])
        return [job_row(r) for r in parse_llist(text)]

    async def start(self, commands: list[str], what: str) -> int:
        text = await self.console(commands)
        job = queued_job(text)
        if job is None:
            lines = [line for line in text.splitlines() if line.strip() and not line.startswith(("Connecting", "1000"))]
            raise Finding(f"{self.name}: the director queued no {what}: {' '.join(lines[-3:]) or 'no answer'}")
        return job

    async def wait(self, job: int, progress: Callable[[dict[str, Any]], None], seconds: float) -> dict[str, Any]:
        """Poll the job until it ends (its row); past ``seconds`` it is cancelled, a finding."""
        deadline = time.monotonic() + seconds
        while True:
            rows = [job_row(r) for r in parse_llist(await self.console([f"llist jobid={job}"]))]
            row = next((r for r in rows if r["job_id"] == job), None)
            if row is not None:
                progress(row)
                if row["status"] != "running":
                    return row
            if time.monotonic() > deadline:
                await self.console([f"cancel jobid={job} yes"])
                raise Finding(f"{self.name}: job {job} did not end within {seconds:.0f} s; cancelled")
            await asyncio.sleep(2)

    async def log(self, job: int) -> list[str]:
        text = await self.console([f"list joblog jobid={job}"])
        return [line.strip() for line in text.splitlines() if re.search(r"Error|Fatal|Termination", line)][:8]


async def director_state(connector: Connector) -> tuple[str, dict[str, Any], Family, HostState]:
    """The bacula role's director on this host: its name, settings, family and the host state;
    a host without it is a finding."""
    from fossp.engine.state import parse_state
    from fossp.hosts.facts import gather_facts

    facts = await gather_facts(connector, [], [])
    state = parse_state(facts)
    instance = next((i for i in state.instances.values() if i.role_name == BACULA), None)
    if instance is None or (instance.part not in (None, DIRECTOR_PART)):
        raise Finding(f"{connector.name}: no Bacula director is deployed here (`fossp deploy bacula` places one)")
    if facts.family is None:
        raise HostError(f"{connector.name}: unknown OS family")
    return instance.settings.get("director_name", "fossp-dir"), instance.settings, facts.family, state
