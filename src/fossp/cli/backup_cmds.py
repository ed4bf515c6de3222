"""`fossp backup`: run, list and restore the Bacula jobs of the roles deployed on a host.

A host is registered with a director (the role bacula) by the platform's setting
backup_director=HOST (`fossp platform apply --set backup_director=HOST`), and again by
every later deploy or decommission on it; its record (/etc/fossp/backup.json) names the
director and the jobs, so these commands need only the host. bconsole runs on the director's host over
FOSSP's SSH connection, every session bounded; it reads the console password from its
own private configuration, so no password crosses the command line or the output.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fossp.cli.common import FormatOption, JsonOption, complete_role, new_app
from fossp.cli.deploy_cmds import BecomeOption, InventoryOption, TargetOption, TimeoutOption, bounds

if TYPE_CHECKING:
    from pathlib import Path

    from fossp.catalog.loader import Catalog
    from fossp.catalog.schema import Family, Role
    from fossp.engine.backup import Director
    from fossp.engine.cluster import HostWork
    from fossp.engine.state import HostState
    from fossp.hosts.connector import Connector
    from fossp.hosts.inventory import HostSpec

app = new_app("Back up and restore every role's data through the Bacula director.")

RoleArgument = Annotated[str, typer.Argument(help="Role ID or name.", autocompletion=complete_role)]
JobTimeoutOption = Annotated[
    float, typer.Option("--job-timeout", min=10, help="Seconds a job may run before it is cancelled (a finding).")
]
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9._/+-]*$")
#: The catalog role whose file daemon registers (data/roles/platform.yaml).
PLATFORM = "platform"


@dataclass
class _Host:
    """A registered host: its connection, family, state and backup record."""

    spec: HostSpec
    connector: Connector
    family: Family
    state: HostState
    record: dict[str, Any]


async def _connect(spec: HostSpec, what: str, limits: dict[str, float] | None = None) -> Connector:
    """A connection within the host's time bounds; one that fails is a finding naming the host."""
    from fossp.errors import Finding
    from fossp.hosts.connector import HostError, open_connector
    from fossp.hosts.timeouts import timeouts_for

    try:
        return await open_connector(spec, timeouts_for(spec.vars, limits or {}, spec.name))
    except HostError as error:
        message = f"{spec.name}: cannot reach the {what}: {error.message}"
        raise Finding(message, where=spec.name, code="unreachable") from None


async def _registered(spec: HostSpec, limits: dict[str, float] | None = None) -> _Host:
    from fossp.engine.backup import RECORD, read_record
    from fossp.engine.state import parse_state
    from fossp.hosts.connector import HostError
    from fossp.hosts.facts import gather_facts

    connector = await _connect(spec, "host", limits)
    facts = await gather_facts(connector, [RECORD], [])
    found = facts.files.get(RECORD)
    record = read_record(found.content if found else None, spec.name)
    if facts.family is None:
        raise HostError(f"{spec.name}: unknown OS family (os-release ID={facts.os.id!r})")
    return _Host(spec, connector, facts.family, parse_state(facts), record)


def _one_host(target: list[str], inventory: Path | None, become: bool, command: str) -> HostSpec:
    from fossp.cli.deploy_cmds import target_hosts
    from fossp.errors import BadInput

    hosts = target_hosts(target, inventory, become) if target else []
    if len(hosts) != 1:
        raise BadInput(f"backup {command}: give --target with one host (got {len(hosts)})")
    return hosts[0]


async def _director(host: _Host, inventory: Path | None, become: bool, limits: dict[str, float]) -> Director:
    from fossp.cli.deploy_cmds import target_hosts
    from fossp.engine.backup import Director

    name = str(host.record["director"])
    spec = target_hosts([name], inventory, become)[0]
    return Director(await _connect(spec, "backup director", limits), name)


def _backed_up_role(host: _Host, ref: str) -> tuple[Role, str]:
    """The role and its job on the host; a role without backup_paths, or without a job
    here, is a finding."""
    from fossp.catalog.loader import load_catalog
    from fossp.engine.backup import job_name
    from fossp.errors import Finding

    role = load_catalog().role(ref)
    if not role.backup_paths.get(host.family):
        raise Finding(
            f"{host.spec.name}: {role.name} ({role.id}) declares no backup_paths for {host.family.value}: "
            "it has no backup"
        )
    return role, str(host.record["jobs"].get(role.name) or job_name(role.name, host.spec.name))


class _Progress:
    """A job's state on stderr while it runs (rich's status line), silent under --json."""

    def __init__(self, enabled: bool) -> None:
        from fossp.output import console

        self.status = console(stderr=True).status("") if enabled else None

    def __enter__(self) -> _Progress:
        if self.status is not None:
            self.status.start()
        return self

    def __exit__(self, *_: object) -> None:
        if self.status is not None:
            self.status.stop()

    def show(self, text: str) -> None:
        if self.status is not None:
            self.status.update(text)

    def job(self, what: str) -> Any:
        return lambda row: self.show(
            f"{what}: job {row['job_id']} {row['status']}, {row['files']} files, {row['bytes']} bytes"
        )


async def _run_job(director: Director, job: str, progress: _Progress, seconds: float) -> dict[str, Any]:
    from fossp.errors import Finding

    progress.show(f"{job}: queued")
    number = await director.start([f"run job={job} yes"], f"backup job {job}")
    row = await director.wait(number, progress.job(job), seconds)
    if not row["status"].startswith("ok"):
        log = await director.log(number)
        raise Finding(f"{director.name}: backup job {number} ({job}) ended: {row['status']}: {' | '.join(log)}")
    return row


@app.command("run")
def run(
    role: Annotated[
        str | None, typer.Argument(help="Role ID or name (default: every role with a job on the host).")
    ] = None,
    target: TargetOption = [],  # noqa: B006 - typer reads the default
    inventory: InventoryOption = None,
    become: BecomeOption = False,
    job_timeout: JobTimeoutOption = 1800,
    timeout: TimeoutOption = [],  # noqa: B006
    as_json: JsonOption = False,
) -> None:
    """Back up a role on a host now (every role with a job there if none is named), its
    consistent-copy step first (a dump, or a freeze), showing progress; exit 1 when a job fails."""
    from fossp.output import console, emit

    spec = _one_host(target, inventory, become, "run")
    limits = bounds([spec], timeout)

    async def main() -> list[dict[str, Any]]:
        host = await _registered(spec, limits)
        jobs = [_backed_up_role(host, role)[1]] if role else list(host.record["jobs"].values())
        director = await _director(host, inventory, become, limits)
        with _Progress(not as_json) as progress:
            return [await _run_job(director, job, progress, job_timeout) for job in jobs]

    rows = asyncio.run(main())

    def render() -> None:
        for row in rows:
            console().print(
                f"{spec.name}: {row['name']}: job {row['job_id']} {row['status']}, {row['files']} files, "
                f"{row['bytes']} bytes",
                highlight=False,
                markup=False,
            )

    emit({"host": spec.name, "jobs": rows}, as_json, render)


@app.command("list")
def list_jobs(
    target: TargetOption = [],  # noqa: B006
    inventory: InventoryOption = None,
    become: BecomeOption = False,
    timeout: TimeoutOption = [],  # noqa: B006
    as_json: JsonOption = False,
    output_format: FormatOption = None,
) -> None:
    """The host's backup and restore jobs the director's catalog holds, newest last."""
    from fossp.output import emit, table

    spec = _one_host(target, inventory, become, "list")
    limits = bounds([spec], timeout)

    async def main() -> tuple[str, list[dict[str, Any]]]:
        host = await _registered(spec, limits)
        director = await _director(host, inventory, become, limits)
        return director.name, await director.jobs(str(host.record["client"]))

    director, rows = asyncio.run(main())
    columns = ["job_id", "name", "type", "level", "status", "started", "files", "bytes"]
    emit(
        {"host": spec.name, "director": director, "jobs": rows},
        as_json,
        lambda: table(f"Jobs of {spec.name} on {director}", columns, [[r[c] for c in columns] for r in rows]),
    )


@app.command("restore")
def restore(
    role: RoleArgument,
    target: TargetOption = [],  # noqa: B006
    inventory: InventoryOption = None,
    become: BecomeOption = False,
    to: Annotated[
        str | None,
        typer.Option("--to", help="Restore the files under this folder on the host instead (no dump is loaded)."),
    ] = None,
    job_timeout: JobTimeoutOption = 1800,
    timeout: TimeoutOption = [],  # noqa: B006
    as_json: JsonOption = False,
) -> None:
    """Restore a role's latest good backup on the host. A role whose backup holds a dump
    (PostgreSQL, MariaDB) gets its files back in a scratch folder and the dump loaded (its
    backup_restore step); any other role's files go back in place. --to PATH only restores
    the files under PATH."""
    from fossp.errors import BadInput
    from fossp.output import console, emit

    if to is not None and not _SAFE_PATH.match(to):
        raise BadInput(f"--to {to[:60]!r}: an absolute path of letters, digits and ._/+- only")
    spec = _one_host(target, inventory, become, "restore")
    limits = bounds([spec], timeout)

    async def main() -> dict[str, Any]:
        host = await _registered(spec, limits)
        chosen, job = _backed_up_role(host, role)
        director = await _director(host, inventory, become, limits)
        with _Progress(not as_json) as progress:
            return await _restore(host, director, chosen, job, to, progress, job_timeout)

    result = asyncio.run(main())

    def render() -> None:
        out = console()
        out.print(
            f"{spec.name}: {result['role']}: backup job {result['backup_job']} restored to {result['where']} "
            f"(restore job {result['restore_job']})",
            highlight=False,
            markup=False,
        )
        for dump in result["loaded"]:
            out.print(f"  loaded {dump}", highlight=False, markup=False)

    emit(result, as_json, render)


async def _restore(
    host: _Host, director: Director, role: Role, job: str, to: str | None, progress: _Progress, seconds: float
) -> dict[str, Any]:
    from fossp.engine.backup import SCRATCH, role_backup
    from fossp.errors import Finding

    client = str(host.record["client"])
    good = [r for r in await director.jobs(client) if r["name"] == job and r["type"] == "backup"]
    good = [r for r in good if r["status"].startswith("ok")]
    if not good:
        raise Finding(f"{director.name}: no good backup of {job} in the catalog; `fossp backup run` makes one")
    backup_job = max(r["job_id"] for r in good)
    instance = host.state.instances.get(role.id)
    dumps = role_backup(role, host.family, instance.settings, host.spec.name).dumps if instance else []
    where = to or (f"{SCRATCH}/{role.name}" if dumps else "/")
    progress.show(f"{job}: restoring backup job {backup_job}")
    number = await director.start(
        [f"restore jobid={backup_job} client={client} where={where} replace=always all done yes"], "restore"
    )
    row = await director.wait(number, progress.job(f"restore of {job}"), seconds)
    if not row["status"].startswith("ok"):
        raise Finding(
            f"{director.name}: restore job {number} ended: {row['status']}: {' | '.join(await director.log(number))}"
        )
    loaded = [] if to else [await _load(host, dump, where, progress) for dump in dumps]
    if loaded:
        await host.connector.run(["rm", "-rf", "--", where])
    return {
        "host": host.spec.name,
        "role": role.id,
        "backup_job": backup_job,
        "restore_job": number,
        "where": where,
        "loaded": loaded,
    }


async def _load(host: _Host, dump: Any, where: str, progress: _Progress) -> str:
    """Read a restored dump back with the role's restore command, on the host."""
    from fossp.errors import Finding

    path = where.rstrip("/") + dump.path
    progress.show(f"loading {path}")
    argv = ["sh", "-c", 'f=$1; shift; exec "$@" < "$f"', "load", path, *dump.restore]
    done = await host.connector.run(argv, timeout=host.connector.timeouts.packages)
    if not done.ok:
        raise Finding(f"{host.spec.name}: loading {path} failed: {done.stderr.strip()[-300:]}")
    return path


async def director_name(spec: HostSpec) -> str:
    """The name of the director deployed on ``spec`` (a finding when it cannot be reached or has none)."""
    from fossp.engine.backup import director_state

    connector = await _connect(spec, "backup director")
    try:
        return (await director_state(connector))[0]
    finally:
        await connector.close()


def director_on(spec: HostSpec) -> str:
    """`director_name` for the synchronous callers (the run's settings, before any target is reached)."""
    return asyncio.run(director_name(spec))


def resolve_backup_directors(catalog: Catalog, work: dict[str, HostWork], director_of: Callable[[str], str]) -> None:
    """Before any target is reached: the host each platform choice's ``backup_director``
    names must run the bacula role's director, whose name (``director_of`` reads it, once
    per director) becomes the platform's ``director_name``: the file daemon answers it. A
    director not reached is a finding; a value naming no one host with a director, or a
    director_name of another, is bad input naming platform.backup_director."""
    from fossp.engine.backup import BACKUP_DIRECTOR
    from fossp.errors import BadInput, Finding

    platform = catalog.role(PLATFORM).id
    choosing = [
        (w, index, given)
        for w in work.values()
        for index, (role_id, given) in enumerate(w.choices)
        if role_id == platform and given.get(BACKUP_DIRECTOR)
    ]
    names = {}
    for name in sorted({given[BACKUP_DIRECTOR] for *_, given in choosing}):
        where = f"platform.{BACKUP_DIRECTOR}={name}"
        try:
            names[name] = director_of(name)
        except Finding as error:
            if error.code != Finding.code:  # not reached, or a failing command there: not the value's fault
                raise
            raise BadInput(f"{where}: {error.message}") from None
        except BadInput as error:  # the lookup's own kind (the console's: not found) stays
            error.message = f"{where}: {error.message}"
            error.args = (error.message,)
            raise
    for w, index, given in choosing:
        name = names[given[BACKUP_DIRECTOR]]
        if given.get("director_name", name) != name:
            raise BadInput(
                f"platform.{BACKUP_DIRECTOR}={given[BACKUP_DIRECTOR]}: the director there is named {name}, "
                f"not platform.director_name={given['director_name']}"
            )
        w.choices[index] = (platform, {**given, "director_name": name})


@dataclass
class Registering:
    """One host to register once its run is over: with ``director`` (as the run names it)."""

    spec: HostSpec
    director: str
    #: The platform's given settings when the run deploys it (its director_password is
    #: the file daemon's); None: the password the director holds for the host stays.
    platform: dict[str, Any] | None = None
    #: For a dry run, the roles the run would deploy (role, settings): the plan registers
    #: the host as it would be after the run.
    adding: list[tuple[Role, dict[str, Any]]] = field(default_factory=list)


def registering(
    catalog: Catalog, hosts: list[HostSpec], work: dict[str, HostWork], plans: dict[str, Any], dry_run: bool
) -> list[Registering]:
    """The hosts of a run to register (``plans``: the first plan of each host that ended
    well): with the platform's backup_director when the run gives it, else with the
    director the host's record names (read with its facts). A dry run registers the
    host as it would be once the run's roles are deployed."""
    from fossp.engine.backup import BACKUP_DIRECTOR
    from fossp.engine.planner import wanted_roles

    platform = catalog.role(PLATFORM).id
    items = []
    for spec in (h for h in hosts if h.name in plans):
        mine = work[spec.name]
        given = next((g for role_id, g in mine.choices if role_id == platform), None)
        director = (given or {}).get(BACKUP_DIRECTOR) or plans[spec.name].backup_director
        if not director:
            continue
        adding = wanted_roles(catalog, mine.choices, spec.vars, spec.name, mine.memberships) if dry_run else []
        items.append(Registering(spec, director, given, [(w.role, w.settings) for w in adding]))
    return items


def register(
    items: list[Registering], lookup: Callable[[str], HostSpec], dry_run: bool, limits: dict[str, float]
) -> list[dict[str, Any]]:
    """Register each host's file daemon and its roles' jobs with its director (the
    director's file per host, the host's record), through the engine: planned, recorded
    in each host's ledger, undone by decommission. A host that could not be registered
    (its director not reached within ``limits``) has its ``error``, and the others go on."""
    return asyncio.run(register_hosts(items, lookup, dry_run, limits))


async def register_hosts(
    items: list[Registering], lookup: Callable[[str], HostSpec], dry_run: bool, limits: dict[str, float]
) -> list[dict[str, Any]]:
    from fossp.errors import FosspError, error_data

    directors: dict[str, tuple[Connector, tuple[str, int]] | FosspError] = {}
    done = []
    try:
        for item in items:
            try:
                at_director, director = await _reach(item.director, directors, lookup, limits)
                done.append(await _register_one(item, at_director, director, dry_run, limits))
            except FosspError as error:
                failed = error_data(f"{item.spec.name}: not registered: {error.message}", item.spec.name, error.code)
                done.append({"host": item.spec.name, "director": item.director, "error": failed})
    finally:
        for reached in directors.values():
            if isinstance(reached, tuple):
                await reached[0].close()
    return done


async def _reach(
    name: str, directors: dict[str, Any], lookup: Callable[[str], HostSpec], limits: dict[str, float]
) -> tuple[Connector, tuple[str, int]]:
    """The director's connection, name and file retention, reached once per run: one that
    failed fails every host registered with it at once, without a second wait."""
    from fossp.errors import FosspError

    if name not in directors:
        try:
            connector = await _connect(lookup(name), "backup director", limits)
            try:
                directors[name] = (connector, await _director_facts(connector))
            except FosspError:
                await connector.close()
                raise
        except FosspError as error:
            directors[name] = error
    reached = directors[name]
    if isinstance(reached, Exception):
        raise reached
    return reached


async def _register_one(
    item: Registering,
    at_director: Connector,
    director: tuple[str, int],
    dry_run: bool,
    limits: dict[str, float] | None = None,
) -> dict[str, Any]:
    """The host's record and the director's file for it, from the roles deployed there
    (with ``item.adding``: as they would be); a host without the platform (its file
    daemon) leaves the director, its file there removed. ``director``: its name and file
    retention; a file daemon the run set to answer another name is a finding."""
    from fossp.catalog.loader import load_catalog
    from fossp.engine.apply import apply_owned_files
    from fossp.engine.backup import BACULA, client_name, record_file, registered_file, registration
    from fossp.engine.state import Instance, InstanceState, parse_state
    from fossp.hosts.connector import HostError
    from fossp.hosts.facts import gather_facts

    catalog, spec = load_catalog(), item.spec
    bacula, platform = catalog.role(BACULA), catalog.role(PLATFORM)
    director_file = registered_file(spec.name)
    connector = at_director if spec.name == at_director.name else await _connect(spec, "host", limits)
    try:
        facts = await gather_facts(connector, [], [])
        if facts.family is None:
            raise HostError(f"{spec.name}: unknown OS family (os-release ID={facts.os.id!r})")
        state = parse_state(facts)
        for role, settings in item.adding:
            state.instances[role.id] = Instance(
                role_id=role.id, role_name=role.name, state=InstanceState.READY, settings=settings
            )
        if platform.id not in state.instances:
            gone = director_file.model_copy(update={"template": None, "absent": True})
            left = await apply_owned_files(at_director, bacula, {}, [gone], dry_run)
            empty: dict[str, Any] = {"client": client_name(spec.name), "jobs": {}, "skipped": []}
            return {"host": spec.name, "director": item.director, **empty, "plans": [left.summary()]}
        password = await _password(item, at_director)
        found = registration(spec.name, spec.address, facts.family, state, dict(catalog.roles), password)
        if found.password is not None:  # the platform's file daemon (not a member of the bacula role's)
            _answers(item, platform, director[0])
        record = found.record(item.director)
        on_host = await apply_owned_files(connector, platform, {"record": record}, [record_file()], dry_run)
    finally:
        if connector is not at_director:
            await connector.close()
    values = found.director_values(director[1])
    on_director = await apply_owned_files(at_director, bacula, values, [director_file], dry_run)
    return {
        "host": spec.name,
        "director": item.director,
        "client": record["client"],
        "jobs": record["jobs"],
        "skipped": found.skipped,
        "plans": [on_host.summary(), on_director.summary()],
    }


def _answers(item: Registering, platform: Role, name: str) -> None:
    """A run that deployed the platform without backup_director set its file daemon to
    answer director_name (fossp-dir unless given): another director's name is a finding,
    with what to do, before anything is registered."""
    from fossp.errors import Finding

    if item.platform is None:
        return
    setting = platform.setting("director_name")
    answering = item.platform.get("director_name") or (setting.default if setting else None)
    if answering != name:
        raise Finding(
            f"{item.spec.name}: its file daemon answers the director {answering}, but the one on {item.director} "
            f"is named {name}: deploy the platform with backup_director={item.director}"
        )


async def _password(item: Registering, at_director: Connector) -> str:
    """The file daemon's password for the director's file: the platform's (given or
    generated) when the run deploys it, else the one the director's file holds, so a host
    registered again keeps the password its file daemon has."""
    from fossp.catalog.loader import load_catalog
    from fossp.engine.backup import registered_file
    from fossp.engine.planner import wanted_roles
    from fossp.hosts.facts import gather_facts

    if item.platform is None:
        path = registered_file(item.spec.name).path
        current = (await gather_facts(at_director, [path], [])).files.get(path)
        kept = _client_password(current.content if current and current.content else b"")
        if kept:
            return kept
    catalog = load_catalog()
    given = [(catalog.role(PLATFORM).id, item.platform or {})]
    return str(wanted_roles(catalog, given, item.spec.vars, item.spec.name)[0].settings["director_password"])


def leaving_jobs(hosts: list[HostSpec], removing: dict[str, list[str]]) -> dict[str, dict[str, Any]]:
    """For decommission: each host's backup record, for the hosts where a role being
    removed (``removing``: host -> role IDs) has a job; a host never registered has none."""
    return asyncio.run(_leaving(hosts, removing))


async def _leaving(hosts: list[HostSpec], removing: dict[str, list[str]]) -> dict[str, dict[str, Any]]:
    from fossp.catalog.loader import load_catalog
    from fossp.errors import Finding
    from fossp.hosts.connector import HostError

    catalog, found = load_catalog(), {}
    for spec in (h for h in hosts if removing.get(h.name)):
        try:
            host = await _registered(spec)
        except (Finding, HostError):  # not registered, or not reached: the removal says so itself
            continue
        names = {catalog.roles[r].name for r in removing[spec.name] if r in catalog.roles}
        jobs = {name: job for name, job in host.record["jobs"].items() if name in names}
        if jobs:
            found[spec.name] = {**host.record, "leaving": jobs}
        await host.connector.close()
    return found


def settle_backups(
    hosts: list[HostSpec], leaving: dict[str, dict[str, Any]], drop: bool, lookup: Callable[[str], HostSpec]
) -> dict[str, dict[str, Any]]:
    """After decommission: the director forgets the removed roles' jobs (the host
    registered again without them, or leaving the director with the platform), and with
    ``drop`` their records in the catalog too; kept, a later restore still finds them. A
    director not reached then is the host's ``error``: the removal itself is done."""
    return asyncio.run(_settle_all([h for h in hosts if h.name in leaving], leaving, drop, lookup))


async def _settle_all(
    hosts: list[HostSpec], leaving: dict[str, dict[str, Any]], drop: bool, lookup: Callable[[str], HostSpec]
) -> dict[str, dict[str, Any]]:
    from fossp.errors import FosspError, error_data

    done = {}
    for spec in hosts:
        record = leaving[spec.name]
        jobs = list(record["leaving"].values())
        try:
            director = await _connect(lookup(str(record["director"])), "backup director")
            try:
                done[spec.name] = await _settle(spec, record, director, drop)
            finally:
                await director.close()
        except FosspError as error:
            message = f"{spec.name}: the backup director {record['director']} still has {', '.join(jobs)}: "
            failed = error_data(message + error.message, spec.name, error.code)
            done[spec.name] = {"jobs": jobs, "dropped": False, "deleted_job_ids": [], "error": failed}
    return done


async def _settle(spec: HostSpec, record: dict[str, Any], at_director: Connector, drop: bool) -> dict[str, Any]:
    from fossp.engine.backup import Director

    jobs = list(record["leaving"].values())
    director = Director(at_director, str(record["director"]))
    dropped = []
    if drop:
        dropped = [r["job_id"] for r in await director.jobs(str(record["client"])) if r["name"] in jobs]
        if dropped:
            await director.console([f"delete jobid={','.join(str(n) for n in dropped)}"])
    await _register_one(Registering(spec, director.name), at_director, await _director_facts(at_director), False)
    return {"jobs": jobs, "dropped": bool(drop), "deleted_job_ids": dropped}


def _client_password(text: bytes) -> str | None:
    """The file daemon's password the director's file for a host holds (None: no Client there)."""
    found = re.search(r'^\s*Password = "([^"]+)"', text.decode(errors="replace"), re.M)
    return found.group(1) if found else None


async def _director_facts(at_director: Connector) -> tuple[str, int]:
    """The director's name and how many days its catalog keeps file records."""
    from fossp.engine.backup import director_state

    name, settings, _, _ = await director_state(at_director)
    return name, int(settings.get("file_retention_days", 60))
