"""Ansible export: a profile's deploy as a playbook of ``ansible.builtin`` modules only.

For fleets run by Ansible or AWX. What the playbook does is what FOSSP's deploy does on a
fresh Debian 12 host, taken from a reference: the profile deployed offline into a root of
the lab base (:func:`fossp.build.offline.make_root`: the real package versions, the files
Augeas edits start from, the computed contents), then the live plan of that root (the
units to start, the steps that need the running service). Each operation becomes a task;
a file whose change needs a restart notifies a handler.

FOSSP's bookkeeping ends as a deploy leaves it, so ``fossp plan`` is empty afterwards and
``fossp decommission`` can undo: the last task writes ``/var/lib/fossp/state.json`` with
the reference's ledger, adjusted on the host by what the tasks did there (an entry is kept
only when its task changed the host, the packages an install added are listed before and
after it, a data subvolume only where ``/`` is BTRFS). Originals are copied to FOSSP's
backups before their first change, as the engine does. Secret values never appear in the
playbook: any field holding one is moved into ``secrets.yml`` (mode 0600) and its task
does not log.
"""

from __future__ import annotations

import asyncio
import os
import posixpath
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from fossp.catalog import Family
from fossp.engine.backends import APT
from fossp.engine.operations import LEDGER_KIND, Operation, OpKind, is_unit_file
from fossp.engine.state import STATE_DIR, STATE_FILE, Change, HostState, Instance, InstanceState
from fossp.errors import BadInput, FosspError
from fossp.secrets import mask

if TYPE_CHECKING:
    from fossp.build.offline import BuildInput
    from fossp.engine.planner import Wanted
    from fossp.hosts.facts import Facts

PLAYBOOK = "playbook.yml"
SECRETS = "secrets.yml"
#: Text Ansible would template (Jinja's markers): such literals are tagged ``!unsafe``.
JINJA_MARKS = ("{{", "{%", "{#")
#: Ansible's own needs on the host (the apt module needs python3-apt), met before anything
#: FOSSP does, so the packages FOSSP's ledger lists are the roles' alone.
BOOTSTRAP = (
    "if ! { command -v python3 && python3 -c 'import apt'; } >/dev/null 2>&1; then "
    "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "
    "python3 python3-apt >/dev/null && echo installed; fi"
)
_BTRFS = "fossp_root_fs.stdout == 'btrfs'"
DAEMON_RELOAD = "systemd daemon-reload"
_LISTED = "select('match', '^ii ') | map('split') | map(attribute='1') | list"


class Unsafe(str):
    """Literal text Ansible must not template (dumped with the ``!unsafe`` tag)."""


def literal(text: str) -> str:
    """``text`` as a playbook value: tagged ``!unsafe`` when Jinja would read it."""
    return Unsafe(text) if any(mark in text for mark in JINJA_MARKS) else text


@dataclass(frozen=True)
class Assumption:
    """A recipe variable read from a package's version (``pg_major`` 15 from postgresql
    15+248): the paths the playbook writes hold it, so the host's version must give it too."""

    role: str
    var: str
    package: str
    pattern: str
    value: str


@dataclass(frozen=True)
class Entry:
    """One change of the reference deploy and its ledger entry (None: a restart)."""

    op: Operation
    change: Change | None


@dataclass
class Reference:
    """What FOSSP's deploy does on a fresh Debian 12 host, in order, with what it records."""

    wanted: list[Wanted]
    offline: list[Entry]  # the offline deploy's changes
    live: list[Entry]  # then what a live plan of its root wants: units started, running steps
    instances: dict[str, Instance]
    assumed: list[Assumption]
    restarts: dict[str, list[str]]  # path -> units that restart when it changes
    run: str


def ledger_entry(op: Operation, run: str) -> Change | None:
    """The entry the engine records for ``op`` once done (None for a restart). The live
    part of a reference (starts, running steps) has no root to record it, so it is made here."""
    kind = LEDGER_KIND[op.kind]
    if kind is None:
        return None
    return Change(
        role=op.role,
        kind=kind,
        target=op.target,
        run=run,
        digest=op.digest,
        previous=op.previous,
        undo=list(op.undo),
        undo_on_purge=op.undo_on_purge,
        sha256=op.sha256,
    )


def paired(ops: list[Operation], ledger: list[Change]) -> list[Entry]:
    """The offline deploy's changes beside the ledger entries it wrote for them, in order;
    a mismatch means the reference cannot be trusted."""
    recorded = iter(ledger)
    entries = []
    for op in ops:
        change = next(recorded, None) if LEDGER_KIND[op.kind] is not None else None
        if LEDGER_KIND[op.kind] is not None and (
            change is None or (change.role, change.target) != (op.role, op.target)
        ):
            raise FosspError(f"the reference root's ledger does not match its deploy at {op.kind.value} {op.target}")
        entries.append(Entry(op, change))
    return entries


def assumptions(wanted: list[Wanted], packages: dict[str, str]) -> list[Assumption]:
    """The package-version variables the roles' recipes used, with their reference values."""
    from fossp.engine.recipe import PackageVersionVar, load_recipe, resolve_vars

    found = []
    for item in wanted:
        recipe = load_recipe(item.role.name).for_family(Family.DEBIAN)
        values = resolve_vars(recipe, item.values(), packages)
        for name, var in recipe.vars.items():
            if isinstance(var, PackageVersionVar) and name in values:
                found.append(Assumption(item.role.id, name, var.package, var.pattern, values[name]))
    return found


def restarts_by_path(wanted: list[Wanted], packages: dict[str, str]) -> dict[str, list[str]]:
    """The units each file restarts when it changes (a recipe file's ``reload``). An offline
    plan leaves restarts out (nothing runs), while a host's services run the old
    configuration until restarted."""
    from fossp.engine.recipe import fill, load_recipe, resolve_vars

    found: dict[str, list[str]] = {}
    for item in wanted:
        recipe = load_recipe(item.role.name).for_family(Family.DEBIAN)
        values = resolve_vars(recipe, item.values(), packages)
        units = item.role.units_for(Family.DEBIAN, values, item.part)
        for spec in recipe.files:
            path = fill(spec.path, values)
            if path is not None and spec.reload and not (spec.dir or spec.absent):
                found.setdefault(path, []).extend(u for u in units if u not in found.get(path, []))
    return found


def reference(
    wanted: list[Wanted],
    offline: list[Entry],
    live: list[Operation],
    instances: dict[str, Instance],
    packages: dict[str, str],
    run: str,
) -> Reference:
    """The reference of an export: the offline deploy's entries, then the live plan's
    changes; every entry names the export's ``run``; the roles end running."""
    entries = [Entry(e.op, e.change.model_copy(update={"run": run}) if e.change else None) for e in offline]
    running = {
        role: instance.model_copy(update={"state": InstanceState.RUNNING, "message": None})
        for role, instance in instances.items()
    }
    return Reference(
        wanted,
        entries,
        [Entry(op, ledger_entry(op, run)) for op in live],
        running,
        assumptions(wanted, packages),
        restarts_by_path(wanted, packages),
        run,
    )


@dataclass(frozen=True)
class Export:
    """The files an export writes: the playbook, and the secrets it reads (0600)."""

    playbook: str
    secrets: str
    tasks: int


@dataclass
class _Render:
    """What the rendering of one playbook accumulates."""

    ref: Reference
    tasks: list[dict[str, Any]] = field(default_factory=list)
    handlers: dict[str, dict[str, Any]] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    ledger: list[dict[str, Any]] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # per ledger entry: a Jinja term of the final list
    backed_up: set[str] = field(default_factory=set)

    def value(self, key: str, text: str) -> tuple[str, bool]:
        """``text`` as a task value; one holding a secret moves to the secrets file."""
        if mask(text) == text:
            return literal(text), False
        self.secrets[key] = text
        return f"{{{{ fossp_secret['{key}'] }}}}", True

    def task(self, name: str, module: str, args: dict[str, Any] | str, **extra: Any) -> None:
        self.tasks.append({"name": literal(name), module: args, **extra})


def render(ref: Reference, title: str) -> Export:
    """The playbook reaching the reference's end state, and its secrets file."""
    out = _Render(ref)
    _preamble(out)
    for n, entry in enumerate(ref.offline):
        _OPS[entry.op.kind](out, n, entry)
    out.tasks.append(
        {"name": "restart what changed, before the units start and the running steps", "meta": "flush_handlers"}
    )
    for n, entry in enumerate(ref.live, start=len(ref.offline)):
        _OPS[entry.op.kind](out, n, entry)
    _final_state(out)
    play = {
        "name": literal(title),
        "hosts": "all",
        "gather_facts": False,
        "vars_files": [SECRETS],
        "vars": {"fossp_run": ref.run, "fossp_state": _state(ref), "fossp_ledger": out.ledger},
        "tasks": out.tasks,
        "handlers": sorted(out.handlers.values(), key=lambda h: h["name"] != DAEMON_RELOAD),
    }
    secrets = {"fossp_secret": {key: Unsafe(value) for key, value in out.secrets.items()}}
    return Export(dump([play]), dump(secrets), len(out.tasks))


def _state(ref: Reference) -> dict[str, Any]:
    """The state file but its ledger (made on the host): the roles, running."""
    return dict(
        _unsafe(HostState(instances=ref.instances).model_dump(mode="json", exclude={"ledger"}, exclude_defaults=True))
    )


def _preamble(out: _Render) -> None:
    """Ansible's needs, the facts the export assumed, and the host's FOSSP state so far."""
    out.task(
        "python3 and python3-apt for Ansible's modules",
        "ansible.builtin.raw",
        BOOTSTRAP,
        register="fossp_bootstrap",
        changed_when="'installed' in fossp_bootstrap.stdout",
    )
    out.task("facts", "ansible.builtin.setup", {"gather_subset": ["!all", "min"]})
    out.task(
        "the export was made for Debian 12",
        "ansible.builtin.assert",
        {
            "that": ["ansible_facts.distribution == 'Debian'", "ansible_facts.distribution_major_version == '12'"],
            "fail_msg": "this playbook reaches FOSSP's end state on Debian 12 only",
        },
    )
    out.task(
        "the root file system's type (as FOSSP reads it)",
        "ansible.builtin.command",
        {"argv": ["stat", "-f", "-c", "%T", "/"]},
        register="fossp_root_fs",
        changed_when=False,
    )
    out.task("FOSSP's state on the host", "ansible.builtin.stat", {"path": STATE_FILE}, register="fossp_state_file")
    out.task(
        "FOSSP's state, read",
        "ansible.builtin.slurp",
        {"src": STATE_FILE},
        register="fossp_state_read",
        when="fossp_state_file.stat.exists",
    )
    state = "(fossp_state_read.content | b64decode | from_json) if fossp_state_file.stat.exists else {}"
    out.task("FOSSP's state, parsed", "ansible.builtin.set_fact", {"fossp_host_state": f"{{{{ {state} }}}}"})
    out.task(
        "no other FOSSP deploy on the host (fossp deploy adds roles to it)",
        "ansible.builtin.assert",
        {
            "that": "not fossp_host_state or fossp_run in (fossp_host_state.ledger | map(attribute='run') | list)",
            "fail_msg": f"{STATE_FILE} is not this export's: deploy with `fossp deploy` instead",
        },
    )
    done = (
        "fossp_host_state.ledger | default([]) | selectattr('digest', 'defined') | selectattr('digest')"
        " | selectattr('status', 'defined') | selectattr('status', 'equalto', 'done') | map(attribute='digest')"
    )
    out.task("the steps done already", "ansible.builtin.set_fact", {"fossp_steps_done": f"{{{{ {done} | list }}}}"})


def _label(entry: Entry) -> str:
    return f"{entry.op.role}: {entry.op.kind.value} {entry.op.target}"


def _keep(out: _Render, entry: Entry, when: str, patch: str | None = None) -> None:
    """Put the entry in the final ledger when ``when`` holds on the host (with ``patch``)."""
    if entry.change is None:
        return
    index = len(out.ledger)
    recorded = entry.change.model_dump(mode="json", exclude_defaults=True)
    out.ledger.append(_unsafe({"status": entry.change.status.value, **recorded}))  # the steps' test reads it
    item = f"fossp_ledger[{index}]" + (f" | combine({patch})" if patch else "")
    out.kept.append(f"([{item}] if ({when}) else [])")


def _subvolume(out: _Render, n: int, entry: Entry) -> None:
    """A data folder on a subvolume of its own: only where / is BTRFS and it is not there."""
    missing = f"fossp_s{n}"
    out.task(f"{_label(entry)}: there already?", "ansible.builtin.stat", {"path": entry.op.target}, register=missing)
    when = f"{_BTRFS} and not {missing}.stat.exists"
    for argv in entry.op.commands:
        out.task(f"{_label(entry)}: {' '.join(argv[:3])}", "ansible.builtin.command", {"argv": argv}, when=when)
    _keep(out, entry, when)


def _packages(out: _Render, n: int, entry: Entry) -> None:
    """apt, listed before and after: the ledger names the packages the install added."""
    listing = {"argv": list(APT.list_argv)}
    out.task(f"{_label(entry)}: installed before", "ansible.builtin.command", listing, **_quiet(f"fossp_before{n}"))
    args = {
        "name": entry.op.target.split(),
        "state": "present",
        "install_recommends": False,
        "update_cache": True,
        "cache_valid_time": 3600,
    }
    out.task(_label(entry), "ansible.builtin.apt", args, register=f"fossp_r{n}")
    out.task(f"{_label(entry)}: installed after", "ansible.builtin.command", listing, **_quiet(f"fossp_after{n}"))
    added = f"fossp_after{n}.stdout_lines | {_LISTED} | difference(fossp_before{n}.stdout_lines | {_LISTED}) | sort"
    _keep(out, entry, f"fossp_r{n} is changed", f"{{'packages': {added}}}")
    for assumed in out.ref.assumed:
        if assumed.role == entry.op.role and assumed.package in entry.op.target.split():
            _assert_version(out, n, assumed)


def _quiet(register: str) -> dict[str, Any]:
    """A command that only reads the host: registered, never a change."""
    return {"register": register, "changed_when": False}


def _assert_version(out: _Render, n: int, assumed: Assumption) -> None:
    register = f"fossp_v{n}_{assumed.var}"
    argv = ["dpkg-query", "-W", "-f", "${Version}", assumed.package]
    out.task(f"{assumed.package}'s version", "ansible.builtin.command", {"argv": argv}, **_quiet(register))
    got = f"({register}.stdout | regex_search({assumed.pattern!r}, '\\\\1') or ['']) | first"
    out.task(
        f"{assumed.var} is {assumed.value}, as the paths this playbook writes assume",
        "ansible.builtin.assert",
        {
            "that": f"{got} == {assumed.value!r}",
            "fail_msg": literal(
                f"made for {assumed.package} giving {assumed.var} {assumed.value}; "
                f"the host has {{{{ {register}.stdout }}}}: export again from a matching reference"
            ),
        },
    )


def _backup(out: _Render, entry: Entry) -> None:
    """The original, copied where the ledger's undo restores it from (its first change)."""
    backup = entry.change.backup if entry.change else None
    if backup is None or backup in out.backed_up:
        return
    out.backed_up.add(backup)
    folder = {"path": posixpath.dirname(backup), "state": "directory"}
    out.task(f"{_label(entry)}: backup folder", "ansible.builtin.file", folder)
    copy = {"argv": ["cp", "-a", "--", entry.op.target, backup], "creates": backup}
    out.task(f"{_label(entry)}: the original, kept", "ansible.builtin.command", copy)


def _notify(out: _Render, path: str) -> dict[str, Any]:
    """The handlers a change of ``path`` calls (a unit file: systemd reads it again first)."""
    names = []
    if is_unit_file(path):
        names.append(_handler(out, DAEMON_RELOAD, {"daemon_reload": True}))
    for unit in out.ref.restarts.get(path, []):
        names.append(_handler(out, f"restart {unit}", {"name": unit, "state": "restarted"}))
    return {"notify": names} if names else {}


def _handler(out: _Render, name: str, args: dict[str, Any]) -> str:
    out.handlers.setdefault(name, {"name": name, "ansible.builtin.systemd_service": args})
    return name


def _file(out: _Render, n: int, entry: Entry) -> None:
    op = entry.op
    if op.content is None:
        raise FosspError(f"{op.target}: the reference has no content for it")
    try:
        text = op.content.decode()
    except UnicodeDecodeError:
        raise FosspError(f"{op.target}: not UTF-8 text; ansible.builtin.copy content cannot carry it") from None
    _backup(out, entry)
    content, secret = out.value(f"content{n}", text)
    args: dict[str, Any] = {"dest": op.target, "content": content, "mode": f"0{(op.mode or '644').lstrip('0')}"}
    if op.owner:
        args["owner"], args["group"] = op.owner.split(":")
    extra = {"no_log": True} if secret else {}
    out.task(_label(entry), "ansible.builtin.copy", args, register=f"fossp_r{n}", **extra, **_notify(out, op.target))
    _keep(out, entry, f"fossp_r{n} is changed")


def _remove(out: _Render, n: int, entry: Entry) -> None:
    _backup(out, entry)
    args = {"path": entry.op.target, "state": "absent"}
    out.task(_label(entry), "ansible.builtin.file", args, register=f"fossp_r{n}", **_notify(out, entry.op.target))
    _keep(out, entry, f"fossp_r{n} is changed")


def _dir(out: _Render, n: int, entry: Entry) -> None:
    args = {"path": entry.op.target, "state": "directory", "mode": f"0{(entry.op.mode or '755').lstrip('0')}"}
    out.task(_label(entry), "ansible.builtin.file", args, register=f"fossp_r{n}")
    _keep(out, entry, f"fossp_r{n} is changed")


#: A unit operation's systemd_service arguments.
_UNIT_ARGS: dict[OpKind, dict[str, Any]] = {
    OpKind.ENABLE: {"enabled": True},
    OpKind.DISABLE: {"enabled": False},
    OpKind.START: {"state": "started"},
    OpKind.STOP: {"state": "stopped"},
    OpKind.MASK: {"masked": True},
    OpKind.UNMASK: {"masked": False},
}


def _unit(out: _Render, n: int, entry: Entry) -> None:
    args = {"name": entry.op.target, **_UNIT_ARGS[entry.op.kind]}
    out.task(_label(entry), "ansible.builtin.systemd_service", args, register=f"fossp_r{n}")
    _keep(out, entry, f"fossp_r{n} is changed")


def _step(out: _Render, n: int, entry: Entry) -> None:
    """A setup step runs once: the host's ledger holds its digest once it ran."""
    op = entry.op
    if len(op.commands) != 1 or op.digest is None:
        raise FosspError(f"{_label(entry)}: a step is one command with a digest")
    argv, secret = [], False
    for i, arg in enumerate(op.commands[0]):
        value, hidden = out.value(f"argv{n}_{i}", arg)
        argv.append(value)
        secret = secret or hidden
    args: dict[str, Any] = {"argv": argv}
    if op.stdin is not None:
        args["stdin"], hidden = out.value(f"stdin{n}", op.stdin)
        args["stdin_add_newline"] = False
        secret = secret or hidden
    extra: dict[str, Any] = {"no_log": True} if secret else {}
    if op.retry:
        extra.update(retries=int(op.retry), delay=1, until=f"fossp_r{n}.rc == 0")
    when = f"{op.digest!r} not in fossp_steps_done"
    out.task(_label(entry), "ansible.builtin.command", args, register=f"fossp_r{n}", when=when, **extra)
    _keep(out, entry, f"fossp_r{n} is changed")


def _os_release(out: _Render, n: int, entry: Entry) -> None:
    """/etc/os-release with FOSSP's keys (derived, no ledger entry: the next deploy or
    decommission writes it again); the shipped link is replaced, its target left alone."""
    content = (entry.op.content or b"").decode()
    args = {"dest": entry.op.target, "content": literal(content), "mode": "0644", "follow": False}
    out.task(_label(entry), "ansible.builtin.copy", args, register=f"fossp_r{n}")


def _health_checks(out: _Render, n: int, entry: Entry) -> None:
    """A role's checks for the platform's health timer (derived like /etc/os-release), or
    their removal once the role or the platform leaves."""
    op = entry.op
    if op.content is None:
        out.task(_label(entry), "ansible.builtin.file", {"path": op.target, "state": "absent"}, register=f"fossp_r{n}")
        return
    folder = {"path": op.target.rpartition("/")[0], "state": "directory", "mode": "0755"}
    out.task("FOSSP's health checks folder", "ansible.builtin.file", folder)
    args = {"dest": op.target, "content": literal(op.content.decode()), "mode": "0644"}
    out.task(_label(entry), "ansible.builtin.copy", args, register=f"fossp_r{n}")


def _unsupported(out: _Render, n: int, entry: Entry) -> None:
    raise FosspError(f"{_label(entry)}: the Ansible export cannot render a {entry.op.kind.value} yet")


_OPS: dict[OpKind, Callable[[_Render, int, Entry], None]] = {
    **{kind: _unsupported for kind in OpKind},
    OpKind.SUBVOLUME: _subvolume,
    OpKind.PACKAGES: _packages,
    OpKind.FILE: _file,
    OpKind.REMOVE: _remove,
    OpKind.DIR: _dir,
    **{kind: _unit for kind in _UNIT_ARGS},
    OpKind.STEP: _step,
    OpKind.OS_RELEASE: _os_release,
    OpKind.HEALTH_CHECKS: _health_checks,
}


def _final_state(out: _Render) -> None:
    """The state the engine would have written, made on the host from what changed there;
    written once (``force: false``): a second run finds it and changes nothing."""
    ledger = " + ".join(["[]", *out.kept])
    content = f"{{{{ fossp_state | combine({{'ledger': {ledger}}}) | to_nice_json(indent=2) }}}}\n"
    out.task("FOSSP's folder", "ansible.builtin.file", {"path": STATE_DIR, "state": "directory"})
    args = {"dest": STATE_FILE, "content": content, "mode": "0600", "force": False}
    out.task("FOSSP's state: the roles, the ledger of what was done, the steps' digests", "ansible.builtin.copy", args)


def _unsafe(data: Any) -> Any:
    """JSON-like ``data`` with every string Jinja would read tagged ``!unsafe``."""
    if isinstance(data, str):
        return literal(data)
    if isinstance(data, dict):
        return {key: _unsafe(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_unsafe(item) for item in data]
    return data


class _Dumper(yaml.SafeDumper):
    """Playbook YAML: keys in the order given, multi-line text as blocks, ``!unsafe`` tags."""

    def ignore_aliases(self, data: Any) -> bool:
        return True  # every task reads whole, without anchors


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value and value.strip() == value.rstrip("\n") and not value.startswith(" ") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _unsafe_text(dumper: yaml.SafeDumper, value: Unsafe) -> yaml.Node:
    return dumper.represent_scalar("!unsafe", str(value), style="|" if "\n" in value else None)


_Dumper.add_representer(str, _text)
_Dumper.add_representer(Unsafe, _unsafe_text)


def dump(data: Any) -> str:
    return "---\n" + yaml.dump(data, Dumper=_Dumper, sort_keys=False, width=120, allow_unicode=True)


def check_output(output: Path, force: bool) -> None:
    """Refuse, before any work, a folder that holds something (without ``force``) or a
    place that cannot be written."""
    if output.exists() and not output.is_dir():
        raise BadInput(f"{output}: exists and is not a folder")
    if output.is_dir() and any(output.iterdir()) and not force:
        raise BadInput(f"{output}: not empty (give --force to replace it)")
    if not os.access(output.parent, os.W_OK):
        raise BadInput(f"{output.parent}: cannot write there")


def write_export(export: Export, output: Path) -> list[Path]:
    """Both files in a partial folder beside ``output``, renamed to it when whole."""
    partial = output.with_name(f".{output.name}.fossp-partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        partial.mkdir(mode=0o755)
        (partial / PLAYBOOK).write_text(export.playbook)
        secrets = os.open(partial / SECRETS, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(secrets, "w") as handle:
            handle.write(export.secrets)
        if output.exists():
            shutil.rmtree(output)
        partial.rename(output)
    except OSError as error:
        shutil.rmtree(partial, ignore_errors=True)
        raise BadInput(f"{output}: cannot write it ({error.strerror})") from None
    return [output / PLAYBOOK, output / SECRETS]


def build_reference(build: BuildInput, report: Callable[[str], None]) -> Reference:
    """Deploy the profile offline into a scratch root (removed after), plan it live, and
    take both as the reference (needs root and the lab, like ``fossp build root``)."""
    from fossp.build.offline import Steps, make_root
    from fossp.engine.state import new_run_id
    from fossp.lab import pool

    built = make_root(build, f"ansible-export-{os.getpid()}", Steps(report))
    try:
        live, facts = asyncio.run(_live_plan(built.folder, build.wanted))
        state = HostState.model_validate_json((built.folder / STATE_FILE.lstrip("/")).read_text())
    finally:
        pool.delete_subvolume(built.folder)
    offline = paired(built.operations, state.ledger)
    return reference(build.wanted, offline, live, state.instances, dict(facts.packages), f"ansible-{new_run_id()}")


async def _live_plan(folder: Path, wanted: list[Wanted]) -> tuple[list[Operation], Facts]:
    """What a live plan of the built root still wants: its units started, the steps that
    need them running (the offline deploy deferred these to a first boot)."""
    from fossp.engine.apply import facts_for
    from fossp.engine.planner import plan_host
    from fossp.engine.state import parse_state
    from fossp.hosts.chroot import ChrootConnector

    facts = (await facts_for(ChrootConnector(folder), wanted)).model_copy(update={"offline_root": None})
    plan = plan_host(facts, wanted, parse_state(facts))
    pending = [op for op in plan.changes if op.pending or op.kind not in (OpKind.START, OpKind.STEP)]
    if pending:
        raise FosspError(f"the reference root's live plan wants {pending[0].kind.value} {pending[0].target} too")
    return plan.changes, facts
