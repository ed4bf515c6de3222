"""Queue: a run's hosts in shards on a task queue in PostgreSQL, for controllers on several machines.

The submitting command (`fossp plan|deploy --queue URL`) splits the hosts into shards and
defers one procrastinate job per shard; `fossp queue worker` on any machine that reaches
the hosts takes shards and runs each through :func:`fossp.engine.fleet.run_fleet`, then
stores every host's result (the same JSON a local run prints) in ``fossp_queue.results``
of the same database. The submitter waits until each shard has reported, or is known
lost: still queued once no worker has run for a bound, or its worker stopped sending
heartbeats. A lost shard's hosts are reported failed, not retried: a deploy cut off
mid-run is finished by the next deploy, as for a killed local run.

Only hosts that share nothing go through the queue: multi-host roles' meeting points and
peer probes need every member in one process.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import PrivateAttr

from fossp.engine.operations import Operation
from fossp.errors import BadInput, FosspError

if TYPE_CHECKING:
    from procrastinate import App, JobContext

    from fossp.catalog.loader import Catalog
    from fossp.engine.cluster import HostWork
    from fossp.engine.fleet import Action, HostResult, Progress
    from fossp.hosts.inventory import HostSpec

TASK = "fossp.run_shard"
#: What a shard may do: the commands that submit through the queue.
ACTIONS = ("plan", "deploy")
QUEUE = "fossp"
#: A worker's heartbeat interval, and the silence after which the submitter counts it lost.
HEARTBEAT_S = 2.0
LOST_AFTER_S = 15.0
#: How often the submitter reads the results table.
POLL_S = 0.5

RESULTS_TABLE = "fossp_queue.results"
RESULTS_SQL = """
CREATE SCHEMA IF NOT EXISTS fossp_queue;
CREATE TABLE IF NOT EXISTS fossp_queue.results (
    run uuid NOT NULL,
    host text NOT NULL,
    shard integer NOT NULL,
    worker text NOT NULL,
    ok boolean NOT NULL,
    error text,
    seconds double precision NOT NULL,
    value json,  -- json, not jsonb: the keys stay in the order a local run prints them
    detail json,
    reported_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run, host)
);
"""


def queue_url(given: str | None) -> str:
    """The queue database: --queue, else FOSSP_QUEUE."""
    url = given or os.environ.get("FOSSP_QUEUE", "")
    if not url.startswith(("postgresql://", "postgres://")):
        raise BadInput("--queue: give a postgresql:// URL (or set FOSSP_QUEUE)")
    return url


def shown(url: str) -> str:
    """The database as messages name it: host, port and name, never its password."""
    from psycopg.conninfo import conninfo_to_dict

    parts = conninfo_to_dict(url)
    return f"postgresql://{parts.get('host', 'localhost')}:{parts.get('port', 5432)}/{parts.get('dbname', '')}"


def make_app(url: str) -> App:
    """The procrastinate app on ``url`` with FOSSP's one task."""
    try:
        from procrastinate import App, PsycopgConnector
    except ImportError:
        raise FosspError("--queue needs procrastinate: pip install 'fossp[queue]'") from None

    app = App(connector=PsycopgConnector(conninfo=url))
    app.task(name=TASK, queue=QUEUE, pass_context=True)(_run_shard)
    return app


def init(url: str) -> bool:
    """Create procrastinate's schema (unless there) and the results table; True if
    procrastinate's schema was applied now."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        present = connection.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL").fetchone()
        connection.execute(RESULTS_SQL)
    if present and present[0]:
        return False
    app = make_app(url)
    with app.open():
        app.schema_manager.apply_schema()
    return True


def _check_ready(url: str) -> None:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=10) as connection:
            row = connection.execute(
                "SELECT to_regclass('procrastinate_jobs') IS NOT NULL"
                " AND to_regclass('fossp_queue.results') IS NOT NULL"
            ).fetchone()
    except psycopg.Error as error:
        raise FosspError(f"--queue {shown(url)}: cannot connect: {str(error).strip().splitlines()[0]}") from None
    if not (row and row[0]):
        raise FosspError(f"--queue {shown(url)}: no FOSSP queue there yet: run `fossp queue init --queue URL` once")


def run_worker(url: str, concurrency: int, name: str) -> None:
    """Take shards until stopped (SIGINT/SIGTERM end it once its shards are done)."""
    _check_ready(url)
    from fossp.hosts.connector import load_asyncssh

    load_asyncssh()
    make_app(url).run_worker(
        queues=[QUEUE],
        concurrency=concurrency,
        name=name,
        update_heartbeat_interval=HEARTBEAT_S,
        delete_jobs="successful",
        additional_context={"url": url},  # for the results table
    )


# The worker's side


async def _run_shard(
    context: JobContext,
    run: str,
    shard: int,
    action: str,
    hosts: list[dict[str, Any]],
    choices: dict[str, list[list[Any]]],
    timeouts: dict[str, float],
) -> None:
    """One shard's hosts through run_fleet; every host's result stored before the job ends."""
    from fossp.engine.fleet import run_fleet
    from fossp.hosts.inventory import HostSpec

    specs = [HostSpec.model_validate(host) for host in hosts]
    results = await run_fleet(specs, shard_action(action, choices), timeouts=timeouts)
    await _store(context, run, shard, results)


def shard_action(action: str, choices: dict[str, list[list[Any]]]) -> Action[Any]:
    """The per-host action a shard runs, from the job's plain data."""
    from fossp.catalog.loader import load_catalog
    from fossp.engine.cluster import HostWork
    from fossp.engine.jobs import deploy_action, plan_action

    if action not in ACTIONS:
        raise BadInput(f"queued job: unknown action {action!r} (FOSSP runs {', '.join(ACTIONS)})")
    catalog = load_catalog()
    work = {host: HostWork(choices=[(role, settings) for role, settings in chosen]) for host, chosen in choices.items()}
    return plan_action(catalog, work) if action == "plan" else deploy_action(catalog, work, None)


async def _store(context: JobContext, run: str, shard: int, results: list[HostResult]) -> None:
    import psycopg
    from psycopg.types.json import Json

    def data(value: Any) -> Json | None:
        document = encode(value)
        return None if document is None else Json(document)

    rows = [
        (run, r.host, shard, context.worker_name or "", r.ok, r.error, r.seconds, data(r.value), data(r.detail))
        for r in results
    ]
    async with await psycopg.AsyncConnection.connect(context.additional_context["url"]) as connection:
        await connection.cursor().executemany(
            "INSERT INTO fossp_queue.results (run, host, shard, worker, ok, error, seconds, value, detail)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (run, host) DO NOTHING",
            rows,
        )


# The submitter's side


@dataclass
class _Shard:
    index: int
    hosts: list[str]
    job: int


def shards(hosts: list[HostSpec], size: int) -> list[list[HostSpec]]:
    """Hosts cut into shards of at most ``size``, in order."""
    return [hosts[start : start + size] for start in range(0, len(hosts), size)]


def check_queueable(work: dict[str, HostWork], catalog: Catalog) -> None:
    """Refuse what needs every host in one process: multi-host roles, peer probes."""
    from fossp.engine.jobs import cluster_run

    if any(w.memberships for w in work.values()) or cluster_run(catalog, work) is not None:
        raise BadInput(
            "--queue: these roles make the hosts work together (multi-host roles or peer probes); run without --queue"
        )


def submit(
    url: str,
    action: str,
    hosts: list[HostSpec],
    work: dict[str, HostWork],
    timeouts: dict[str, float],
    shard_size: int,
    wait: float,
    progress: Progress,
) -> list[HostResult]:
    """Defer the run's shards, wait for every host's result (each shard's wait bounded),
    and give the results in the hosts' order."""
    _check_ready(url)
    return asyncio.run(_submit(url, action, hosts, work, timeouts, shard_size, wait, progress))


async def _submit(
    url: str,
    action: str,
    hosts: list[HostSpec],
    work: dict[str, HostWork],
    timeouts: dict[str, float],
    shard_size: int,
    wait: float,
    progress: Progress,
) -> list[HostResult]:
    app = make_app(url)
    run = str(uuid.uuid4())
    async with app.open_async():
        task = app.tasks[TASK]
        pending: list[_Shard] = []
        for index, shard in enumerate(shards(hosts, shard_size)):
            job = await task.defer_async(
                run=run,
                shard=index,
                action=action,
                hosts=[host.model_dump(mode="json") for host in shard],
                choices={host.name: [list(choice) for choice in work[host.name].choices] for host in shard},
                timeouts=timeouts,
            )
            pending.append(_Shard(index, [host.name for host in shard], job))
            for host in shard:
                progress(host.name, f"queued (shard {index})")
        found = await _gather(app, url, run, pending, wait, progress)
    return [found[host.name] for host in hosts]


async def _gather(
    app: App, url: str, run: str, pending: list[_Shard], wait: float, progress: Progress
) -> dict[str, HostResult]:
    """Results as they arrive; a shard lost (its worker silent, its job failed, or queued
    while no worker ran for ``wait`` seconds) leaves its unreported hosts failed, named so."""
    import psycopg

    found: dict[str, HostResult] = {}
    seen_worker = time.monotonic()
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        while pending:
            await asyncio.sleep(POLL_S)
            await _read(connection, run, found, progress)
            if await _workers_alive(connection):
                seen_worker = time.monotonic()
            stalled = await _stalled(app)
            statuses = await _statuses(connection, [shard.job for shard in pending])
            idle = time.monotonic() - seen_worker >= wait
            lost: list[tuple[_Shard, str]] = []
            for shard in (s for s in pending if not all(h in found for h in s.hosts)):
                why = await _lost(app, shard, statuses.get(shard.job), stalled, idle, wait, progress)
                if why:
                    lost.append((shard, why))
            await _read(connection, run, found, progress)  # what a lost worker stored just before
            for shard, why in lost:
                for host in shard.hosts:
                    found.setdefault(host, _failed(host, why))
            pending = [s for s in pending if not all(h in found for h in s.hosts)]
    return found


async def _stalled(app: App) -> set[int]:
    """The jobs whose worker has not sent a heartbeat for LOST_AFTER_S (procrastinate's view)."""
    jobs = await app.job_manager.get_stalled_jobs(task_name=TASK, seconds_since_heartbeat=LOST_AFTER_S)
    return {job.id for job in jobs if job.id is not None}


async def _statuses(connection: Any, jobs: list[int]) -> dict[int, str]:
    """The jobs' procrastinate statuses; a job not there was deleted once it succeeded."""
    query = "SELECT id, status FROM procrastinate_jobs WHERE id = ANY(%s)"
    return {job: status for job, status in await (await connection.execute(query, (jobs,))).fetchall()}


async def _read(connection: Any, run: str, found: dict[str, HostResult], progress: Progress) -> None:
    """The run's results not read yet, into ``found``."""
    query = (
        "SELECT host, worker, ok, error, seconds, value, detail FROM fossp_queue.results"
        " WHERE run = %s AND NOT host = ANY(%s)"
    )
    for row in await (await connection.execute(query, (run, list(found)))).fetchall():
        found[row[0]] = decode(row)
        progress(row[0], f"{'done' if row[2] else 'failed'} on {row[1]}")


async def _workers_alive(connection: Any) -> bool:
    """Whether any worker (of any run) sent a heartbeat lately."""
    query = "SELECT EXISTS (SELECT FROM procrastinate_workers WHERE last_heartbeat > now() - %s * interval '1 second')"
    row = await (await connection.execute(query, (LOST_AFTER_S,))).fetchone()
    return bool(row and row[0])


async def _lost(
    app: App,
    shard: _Shard,
    status: str | None,
    stalled: set[int],
    no_workers: bool,
    wait: float,
    progress: Progress,
) -> str | None:
    """Why ``shard`` will not report (its job cancelled or marked failed so that no worker
    takes it later), or None while it still may: a queued shard waits while workers run
    (busy with earlier shards, each bounded by its hosts' time bounds)."""
    from procrastinate.jobs import Status

    manager = app.job_manager
    if status in (None, Status.SUCCEEDED.value):  # succeeded (deleted if None): results stored first,
        return "its shard's job ended without storing its result"  # so read again before this counts
    if status == Status.TODO.value:
        if no_workers and await manager.cancel_job_by_id_async(shard.job):
            return f"no worker ran for {wait:g} s to take its shard (start `fossp queue worker`)"
        return None
    if status == Status.DOING.value:
        if shard.job not in stalled:
            for host in shard.hosts:
                progress(host, f"running (shard {shard.index})")
            return None
        await manager.finish_job_by_id_async(shard.job, status=Status.FAILED, delete_job=False)
        return f"the worker running its shard stopped sending heartbeats for {LOST_AFTER_S:g} s"
    return f"its shard's job ended {status} without a result"


def _failed(host: str, why: str) -> HostResult:
    from fossp.engine.fleet import HostResult

    return HostResult(host, 0.0, error=f"{host}: {why}")


def encode(value: Any) -> dict[str, Any] | None:
    """A plan or a deploy outcome as the JSON a local run prints for it (secrets masked)."""
    from fossp.engine.jobs import outcome_data
    from fossp.engine.operations import Plan

    if value is None:
        return None
    return value.summary() if isinstance(value, Plan) else outcome_data(value)


def decode(row: tuple[Any, ...]) -> HostResult:
    """A stored result as the CLI's summary shows it: its JSON turned back into a plan or a
    deploy outcome whose summaries are the stored JSON, unchanged."""
    from fossp.engine.fleet import HostResult

    host, _, _, error, seconds, value, detail = row
    return HostResult(host, seconds, value=_value(value), error=error, detail=_value(detail))


def _value(data: dict[str, Any] | None) -> Any:
    if data is None:
        return None
    if "operations" in data:
        return _plan(data)
    return _outcome(data)


def _plan(data: dict[str, Any]) -> Any:
    from fossp.engine.operations import Plan

    fields = {key: data[key] for key in ("host", "family", "roles", "notes")}
    return Plan(**fields, operations=[_operation(op) for op in data["operations"]])


def _outcome(data: dict[str, Any]) -> Any:
    from fossp.engine.apply import Outcome
    from fossp.engine.probes.common import ProbeResult

    kept = {key: data[key] for key in ("recovered", "snapshots", "notes", "rollback", "states")}
    return Outcome(
        **kept,
        run=data["run_id"],
        applied=[_operation(op) for op in data["applied"]],
        probes=[ProbeResult(**probe) for probe in data["probes"]],
    )


def _operation(summary: dict[str, Any]) -> Stored:
    operation = Stored.model_validate({key: value for key, value in summary.items() if key != "sha256"})
    operation._stored = summary
    return operation


class Stored(Operation):
    """An operation read back from its stored summary, which it gives unchanged (its
    content, and so its sha256, is not stored)."""

    _stored: dict[str, Any] = PrivateAttr(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return self._stored
