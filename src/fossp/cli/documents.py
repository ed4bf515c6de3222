"""The shapes of the JSON documents `--json` prints, one model per kind of document.

They are the documented contract (docs/json.md): `python -m fossp.cli.schemas DIR`
writes one JSON Schema per command from them (shipped in fossp/data/schemas), and the
tests validate every command's output against its schema. Every document is an object
with ``schema_version`` first; under --json an error is the ``ErrorDocument``.

A model with ``extra="forbid"`` lists every field; one with ``extra="allow"`` (a host's
entry in some fleet commands, an operation) lists the fields every such entry has and
may carry more, described in docs/json.md. Imported only to write or check the schemas,
never when a command runs.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from fossp.catalog.schema import Role
from fossp.hosts.inventory import Connection
from fossp.lab.hosts import LabHost
from fossp.output import SCHEMA_VERSION

#: A date as endoflife.date gives it: the day, or false when none is announced.
DateOrFalse = date | Literal[False]


class Shape(BaseModel):
    """A part of a document that lists every field it has."""

    model_config = ConfigDict(extra="forbid")


class Open(BaseModel):
    """A part of a document that has at least these fields (docs/json.md lists the rest)."""

    model_config = ConfigDict(extra="allow")


class Document(Shape):
    """Every document's frame: its shape version, then its data (a document that is also
    a row puts the row first, ``class Account(AccountRow, Document)``, so that
    ``schema_version`` stays the first field)."""

    schema_version: Literal[1] = Field(description=f"the shape version of the document ({SCHEMA_VERSION})")


# -- errors ---------------------------------------------------------------------------


class ErrorInfo(Shape):
    """An error: a whole command's, or one host's in a fleet command's document."""

    message: str = Field(description="the line the command prints on stderr without --json")
    where: str | None = Field(description="the file, field, host or database concerned, when known")
    code: str = Field(description="a stable snake_case name of the kind of error (docs/json.md lists them)")


class ErrorDocument(Document):
    """What any command prints under --json when it fails as a whole (exit 1 or 2)."""

    error: ErrorInfo


# -- catalog --------------------------------------------------------------------------


class RoleRow(Shape):
    id: str
    name: str
    service: str = Field(description="the service's key (database), as in roles show")
    service_name: str = Field(description="the service's name (Database Services)")
    implementation: str
    status: str
    deployable: bool
    upstream: str
    features: list[str]
    fedora: list[str] | None = Field(description="its Fedora packages; null: not available on Fedora")
    debian: list[str] | None = Field(description="its Debian packages; null: not available on Debian")


class RolesList(Document):
    roles: list[RoleRow]


class RoleDocument(Role, Document):
    """`roles show`: the role as the catalog has it."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class LifecycleRow(Shape):
    service: str = Field(description="the service's key (database), as in roles show")
    service_name: str = Field(description="the service's name (Database Services)")
    implementation: str
    role_id: str
    release_cycle: str
    release_date: date
    eol: DateOrFalse
    status: str
    upstream: str


class Lifecycle(Document):
    roles: list[LifecycleRow]


class ReleaseChange(Shape):
    kind: str
    summary: str


class ReleaseRow(Shape):
    release_cycle: str
    release: str
    level: str
    release_date: date
    eol: DateOrFalse
    changes: list[ReleaseChange]


class Releases(Document):
    releases: list[ReleaseRow]


class ReleaseCheck(Document):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str = Field(alias="from")
    to: str
    level: str | None
    allowed: bool
    downgrade: bool
    reboot: bool
    group_update: str | None
    reason: str


# -- selection ------------------------------------------------------------------------


class FeatureRow(Shape):
    feature: str
    description: str
    synonyms: list[str]
    protocols: list[str]
    products: list[str]
    implies: list[str]
    roles: list[str] = Field(description="IDs of the roles that provide it")


class Features(Document):
    features: list[FeatureRow]


class Conflict(Shape):
    roles: str = Field(description="the two role IDs, space-separated")
    kind: str
    reason: str
    resolution: str


class Understood(Shape):
    words: str
    term: str
    term_kind: str
    means: str
    target: str


class RequestData(Shape):
    text: str
    understood: list[Understood]
    features: dict[str, str]
    roles: dict[str, str]
    unserved: dict[str, str]
    ignored: list[str]
    filler: list[str]
    did_you_mean: dict[str, list[str]]


class Alternative(Shape):
    id: str
    name: str
    why_not: str


class ChoiceData(Shape):
    id: str
    name: str
    implementation: str
    reasons: list[str]
    required_by: str | None
    settings: dict[str, Any]
    deploys: bool
    deploys_on: list[str]
    deploy_problem: str | None
    alternatives: list[Alternative]


class Unmet(Shape):
    feature: str
    reason: str


class Near(Shape):
    id: str
    name: str
    why: str


class Unserved(Shape):
    need: str
    name: str
    asked_as: str
    message: str
    nearest: list[Near]


class ToChoose(Shape):
    role_id: str
    name: str = Field(description="the role's name")
    setting: str
    type: str
    secret: bool
    description: str
    example: Any = None
    give_as: str


class Recommendation(Document):
    family: str | None
    requests: list[RequestData]
    roles: list[ChoiceData]
    conflicts: list[Conflict]
    unmet: list[Unmet]
    unserved: list[Unserved]
    settings_to_choose: list[ToChoose]
    ok: bool


class ProfileRole(Shape):
    id: str
    name: str
    settings: dict[str, Any]


class ProfileCheck(Document):
    profile: str
    roles: list[ProfileRole]
    conflicts: list[Conflict]
    warnings: list[str]
    ok: bool


# -- platform, inventory and hosts ----------------------------------------------------


class PlatformComponent(Shape):
    component: str
    name: str
    outcome: Literal["pass", "warn", "fail", "skip"]
    detail: str | None
    remedy: str | None


class PlatformReport(Shape):
    host: str
    ok: bool
    error: ErrorInfo | None = Field(default=None, description="set (and nothing else) when the host was not checked")
    counts: dict[str, int] = {}
    components: list[PlatformComponent] = []


class PlatformCheck(Document):
    hosts: list[PlatformReport]


class ProbeHealthData(Shape):
    name: str = Field(description="the probe's name, or the unit's")
    kind: str = Field(description="unit, command, postgresql, mysql, or a network probe's kind checked as its port")
    ok: bool
    message: str


class RoleHealthData(Shape):
    role: str = Field(description="the role ID")
    name: str
    ok: bool
    passed: int
    total: int
    message: str = Field(description="the first failed check and why, or empty")
    probes: list[ProbeHealthData]


class FileSystemData(Shape):
    mount: str
    size_kb: int
    available_kb: int
    used_percent: int
    ok: bool = Field(description="used_percent is at most the platform's health_disk_max_percent")


class SystemHealthData(Shape):
    ok: bool
    load: list[float] = Field(description="load averages over 1, 5 and 15 minutes")
    memory_total_kb: int
    memory_available_kb: int
    failed_units: list[str]
    file_systems: list[FileSystemData]


class HostHealthData(Shape):
    host: str
    address: str
    ok: bool
    status: Literal["ok", "unhealthy", "stale", "unreadable"]
    error: ErrorInfo | None = Field(
        default=None, description="set (with status unreadable) when the agent was not read"
    )
    checked_at: datetime | None = Field(default=None, description="when the host's health timer last ran")
    age_seconds: int | None = None
    interval_seconds: int | None = None
    problems: list[str] = []
    system: SystemHealthData | None = None
    roles: list[RoleHealthData] = []


class Health(Document):
    """`fossp health`: with --watch --json, one such document per line per read."""

    hosts: list[HostHealthData]


class InventoryHost(Shape):
    host: str
    key_path: str | None = Field(description="the private key FOSSP logs in with; null: SSH's own")
    known_hosts_path: str | None = Field(description="the known hosts file; null: SSH's own")
    address: str
    port: int
    user: str
    connection: Connection
    become: bool
    vars: dict[str, Any]
    groups: list[str]


class Inventory(Document):
    source: str
    hosts: list[InventoryHost]
    groups: dict[str, list[str]]


class HostEntry(Open):
    """One host's part of a fleet command's answer."""

    host: str
    error: ErrorInfo | None = Field(default=None, description="what stopped this host (null or absent: nothing)")


class HostErrorEntry(Shape):
    host: str
    error: ErrorInfo


class Hosts(Document):
    """A fleet command: one entry per target host."""

    hosts: list[HostEntry]


class OperationData(Open):
    """A change (or a no-op, ``change`` false, with the reason); fields left at their
    default are left out (commands, stdin, mode, owner, diff, sha256, pending, refresh)."""

    role: str = Field(description="the role ID")
    kind: str
    target: str
    reason: str
    change: bool


class PlanData(Shape):
    host: str
    family: str | None
    roles: list[str]
    changes: int = Field(description="how many operations change something")
    notes: list[str]
    operations: list[OperationData]


class Registered(Shape):
    """One host's backup registration (the platform's backup_director, or the director its
    record names): a host not registered has its ``error`` only, besides host and director."""

    host: str
    director: str = Field(description="the director's host, as given")
    client: str | None = Field(default=None, description="the host's Client (file daemon) name on the director")
    jobs: dict[str, str] = Field(default={}, description="role name -> its job")
    skipped: list[str] = Field(default=[], description="why a deployed role has no job (no backup_paths)")
    plans: list[PlanData] = Field(default=[], description="the host's record, then the director's file for the host")
    error: ErrorInfo | None = Field(default=None, description="why the host was not registered (a finding, exit 1)")


class Plans(Document):
    plans: list[PlanData]
    errors: list[HostErrorEntry]
    backup: list[Registered] | None = Field(default=None, description="the registered hosts' backup registrations")


class Probe(Shape):
    role: str = Field(description="the role ID")
    name: str
    kind: str
    ok: bool | None = Field(description="null: this probe cannot run there (an offline root, no prober)")
    output: str


class DeployData(Shape):
    """One host's deploy; a host that failed before its first change has only the first four fields."""

    host: str
    ok: bool
    error: ErrorInfo | None
    seconds: float
    run_id: str | None = Field(default=None, description="null: nothing to change, the host was only read")
    read_only: bool = False
    recovered: str | None = Field(default=None, description="what the run found of an earlier, interrupted one")
    snapshots: dict[str, int] = Field(default={}, description="the pre and post snapshot numbers")
    notes: list[str] = []
    rollback: dict[str, Any] | None = Field(default=None, description="what --rollback-on-failure restored")
    applied: list[OperationData] = []
    states: dict[str, str] = Field(default={}, description="role ID -> its state")
    probes: list[Probe] = []


class Deploys(Document):
    hosts: list[DeployData]
    backup: list[Registered] | None = Field(default=None, description="the registered hosts' backup registrations")


class PlatformApply(Document):
    """`fossp platform apply`: the deploy's document, or with --dry-run the plan's."""

    hosts: list[DeployData] | None = Field(default=None, description="the run on each host (not with --dry-run)")
    plans: list[PlanData] | None = Field(default=None, description="--dry-run: what each host's run would change")
    errors: list[HostErrorEntry] | None = Field(default=None, description="--dry-run: the hosts not planned")
    backup: list[Registered] | None = Field(default=None, description="the registered hosts' backup registrations")


class BackupJob(Shape):
    """A Bacula job as the director's catalog holds it."""

    job_id: int
    name: str
    type: str = Field(description="backup, restore (or Bacula's letter)")
    level: str = Field(description="Bacula's level letter (F full, I incremental, ...)")
    status: str = Field(description="ok, ok, with warnings, error, non-fatal error, fatal error, cancelled or running")
    started: str
    files: int
    bytes: int


class BackupRun(Document):
    host: str
    jobs: list[BackupJob]


class BackupList(Document):
    host: str
    director: str
    jobs: list[BackupJob]


class BackupRestore(Document):
    host: str
    role: str = Field(description="the role ID")
    backup_job: int
    restore_job: int
    where: str = Field(description="where the files were restored (/ is in place)")
    loaded: list[str] = Field(description="the dumps read back with the role's restore command")


class RoleStatusData(Shape):
    role: str = Field(description="the role ID")
    name: str
    state: str
    recorded: str
    drift: list[str]
    problems: list[str]
    probes: list[Probe]


class StatusData(Shape):
    host: str
    error: ErrorInfo | None
    fossp: dict[str, Any] = Field(description="the host's FOSSP release and level, from its os-release")
    roles: list[RoleStatusData]


class Statuses(Document):
    hosts: list[StatusData]


class RunHosts(Hosts):
    run_id: str | None


class UpgradeCheck(Document):
    run_id: str
    reports: list[Open] = Field(description="one compatibility report per host (their own schema_version)")
    errors: list[HostErrorEntry]


class UpgradeRun(Document):
    run_id: str
    hosts: list[HostEntry]
    errors: list[HostErrorEntry]


# -- building and exporting -----------------------------------------------------------


class BuildStep(Shape):
    step: str
    start_seconds: float = Field(description="when it started, in seconds from the build's start")
    seconds: float = Field(description="how long it took")


class DiskStep(Shape):
    step: str
    seconds: float


class Media(Document):
    """An installer's file (`build kickstart`, `build preseed`)."""

    roles: list[str] = Field(description="the profile's role IDs")
    first_boot: bool = Field(description="the host deploys the profile at its first boot (--fossp-source)")
    output: str | None = Field(description="the file written; null: printed (with --json, as the next field)")


class Kickstart(Media):
    kickstart: str = Field(default="", description="the kickstart, when no --output was given")


class PreseedCheck(Shape):
    line: int = Field(description="0: the file as a whole")
    message: str


class Preseed(Media):
    suite: str
    packages: list[str]
    units: list[str]
    data_folders: list[str]
    login: str
    checks: dict[str, list[PreseedCheck]] = Field(description="checker -> what it found wrong")
    preseed: str = Field(default="", description="the preseed, when no --output was given")


class OfflineDeploy(Document):
    """What an offline deploy into a root did (a root, a container, an image built from one)."""

    roles: list[str] = Field(description="the profile's role IDs")
    applied: list[str] = Field(description="the changes made in the root")
    deferred_to_first_boot: list[str]
    steps: list[BuildStep]


class BuiltRoot(OfflineDeploy):
    root: str


class BuiltContainer(OfflineDeploy):
    output: str
    format: Literal["oci", "docker"]
    tag: str
    containerfile: str
    ports: list[str] = Field(description="PORT/PROTOCOL the image exposes")
    labels: dict[str, str]


class BuiltImage(OfflineDeploy):
    output: str
    format: Literal["raw", "qcow2"]
    size_bytes: int
    fs_uuid: str
    firmware: list[str]
    partitions: list[str]
    subvolumes: list[str]
    default_subvolume: str
    data_subvolumes: list[str]
    kernel: str = Field(description="the kernel GRUB boots, as a path in the image")
    hostname: str
    ports: list[str] = Field(description="PORT/PROTOCOL a boot forwards")
    disk_steps: list[DiskStep]


class Wheels(Document):
    output: str
    wheels: list[str]


class ContainerRole(Shape):
    role: str = Field(description="the role ID")
    state: str
    problems: list[str]
    probes: list[Probe]


class ContainerRun(Document):
    name: str
    engine: Literal["podman", "nspawn"]
    address: str
    first_boot: dict[str, Any] = Field(description="the container's first-boot record")
    roles: list[ContainerRole]
    ok: bool


class ImageBoot(Document):
    image: str
    hostname: str
    port: int
    known_hosts_path: str | None = Field(description="null: the VM was stopped (no --keep-running)")
    console_path: str | None
    pid: int | None
    running: bool
    seconds_to_ssh: float
    seconds_to_ready: float
    system_state: str
    roles: list[RoleStatusData]


class Assumed(Shape):
    role: str = Field(description="the role ID")
    var: str
    package: str
    value: str


class AnsibleExport(Document):
    roles: list[str]
    output: str
    playbook: str
    secrets: str
    tasks: int
    assumed: list[Assumed] = Field(description="recipe variables read from a package version the host must have")
    run_id: str


# -- the lab --------------------------------------------------------------------------


class LabHosts(Document):
    hosts: list[LabHost]


class LabRemoved(Document):
    removed: list[str]


class LabRepo(Document):
    roles: list[str]
    packages: list[str]


# -- the stage gate -------------------------------------------------------------------


class AccountRow(Shape):
    name: str
    role: str = Field(description="the gate role")
    operations: str = Field(description="the operations right")
    can_sign_in: bool
    disabled: bool


class Account(AccountRow, Document):
    """An account after `users add`, `disable`, `enable` or `reset-password`."""


class Users(Document):
    users: list[AccountRow]


class ApplicationSummary(Shape):
    id: int
    name: str
    kind: str
    summary: str
    roles: list[str]
    phase: str | None
    phase_name: str
    state: str
    round: int
    next_gate: str | None
    lead: str
    maintainers: list[str]
    catalog_status: str


class Applications(Document):
    applications: list[ApplicationSummary]


class CatalogRole(Shape):
    role_id: str
    name: str | None
    new: bool
    status: str


class CatalogChange(Shape):
    role_id: str
    status: str
    installed: Any
    at: AwareDatetime


class Deliverable(Shape):
    key: str
    title: str
    required: bool
    reference: str | None
    provided_by: str | None


class Criterion(Shape):
    key: str
    text: str
    met: bool
    note: str
    assessed_by: str | None


class Review(Shape):
    by: str
    role: str = Field(description="the reviewer's gate role")
    recommendation: str
    findings: str
    at: AwareDatetime


class OnGo(Shape):
    summary: str
    changes: list[dict[str, Any]]


class GateView(Shape):
    phase: str
    name: str
    round: int
    deliverables: list[Deliverable]
    criteria: list[Criterion]
    required_reviews: list[str]
    reviews: list[Review]
    go_blockers: list[str]
    catalog_on_go: OnGo


class Action(Shape):
    id: int
    gate: str
    title: str
    owner: str
    due: date
    status: str
    overdue: bool


class Decision(Shape):
    gate: str
    round: int
    outcome: str
    rationale: str
    by: str
    at: AwareDatetime


class Application(ApplicationSummary, Document):
    """An application with its gate, actions and decisions (`gate show` and every change)."""

    proposed_by: str
    catalog: list[CatalogRole]
    catalog_changes: list[CatalogChange]
    gate: GateView | None
    actions: list[Action]
    decisions: list[Decision]


class AuditEntry(Shape):
    id: int
    at: AwareDatetime
    actor: str
    action: str
    application_id: int | None
    detail: dict[str, Any]


class Audit(Document):
    entries: list[AuditEntry] = Field(description="newest first")


class Maintainers(Document):
    maintainers: list[str]


class Picture(Document):
    svg: str | None = Field(description="the SVG; null when it was written to --output")
    output: str | None


class Agenda(Document):
    format: Literal["md", "ics"]
    agenda: str


class Serving(Document):
    url: str
    api: str


class QueueReady(Document):
    queue: str
    schema_applied: bool = Field(description="procrastinate's schema applied now (false: it was there)")
    results: str


class QueueWorker(Document):
    queue: str
    worker: str
    concurrency: int


_GATE_CHANGES = ("propose", "deliver", "assess", "review", "decide", "resume", "show")
_ACCOUNT_CHANGES = ("add", "disable", "enable", "reset-password")

#: Each command's document (its words joined by spaces).
COMMANDS: dict[str, type[Document]] = {
    "roles list": RolesList,
    "roles show": RoleDocument,
    "lifecycle": Lifecycle,
    "release list": Releases,
    "release check": ReleaseCheck,
    "features": Features,
    "recommend": Recommendation,
    "profile check": ProfileCheck,
    "platform check": PlatformCheck,
    "platform apply": PlatformApply,
    "health": Health,
    "backup run": BackupRun,
    "backup list": BackupList,
    "backup restore": BackupRestore,
    "inventory list": Inventory,
    "facts": Hosts,
    "plan": Plans,
    "deploy": Deploys,
    "status": Statuses,
    "decommission": Hosts,
    "restore": RunHosts,
    "queue init": QueueReady,
    "queue worker": QueueWorker,
    "snapshot list": Hosts,
    "snapshot create": RunHosts,
    "snapshot delete": Hosts,
    "snapshot diff": Hosts,
    "snapshot cleanup": Hosts,
    "upgrade check": UpgradeCheck,
    "upgrade run": UpgradeRun,
    "upgrade restore": UpgradeRun,
    "build kickstart": Kickstart,
    "build preseed": Preseed,
    "build wheels": Wheels,
    "build root": BuiltRoot,
    "build container": BuiltContainer,
    "container build": BuiltContainer,
    "container run": ContainerRun,
    "image build": BuiltImage,
    "image boot": ImageBoot,
    "export ansible": AnsibleExport,
    "lab up": LabHosts,
    "lab restart": LabHosts,
    "lab list": LabHosts,
    "lab down": LabRemoved,
    "lab repo add": LabRepo,
    "lab repo list": LabRepo,
    **{f"gate {change}": Application for change in _GATE_CHANGES},
    **{f"gate actions {change}": Application for change in ("add", "done", "approve")},
    **{f"gate maintainers {change}": Application for change in ("add", "remove")},
    "gate list": Applications,
    "gate audit": Audit,
    "gate picture": Picture,
    "gate agenda": Agenda,
    "gate maintainers list": Maintainers,
    **{f"users {change}": Account for change in _ACCOUNT_CHANGES},
    "users list": Users,
    "serve": Serving,
}
