"""`fossp queue init | worker`: a run's hosts shared out to controllers on several machines
through a task queue in PostgreSQL (`fossp plan|deploy --queue URL` submits)."""

from __future__ import annotations

from typing import Annotated

import typer

from fossp.cli.common import JsonOption, new_app

app = new_app(
    "A task queue in PostgreSQL that workers on several controller machines take host shards from "
    "(`fossp plan|deploy --queue URL` submits)."
)

QueueOption = Annotated[
    str | None, typer.Option("--queue", help="The queue database, postgresql://...; default FOSSP_QUEUE.")
]


@app.command("init")
def init(queue: QueueOption = None, as_json: JsonOption = False) -> None:
    """Create the queue's tables (procrastinate's schema, and fossp_queue.results); safe to run again."""
    from fossp.engine.queue import RESULTS_TABLE, init, queue_url, shown
    from fossp.output import console, print_json

    url = queue_url(queue)
    applied = init(url)
    if as_json:
        print_json({"queue": shown(url), "schema_applied": applied, "results": RESULTS_TABLE})
        return
    what = "procrastinate's schema applied" if applied else "procrastinate's schema already there"
    console().print(f"{shown(url)}: {what}; results in {RESULTS_TABLE}", highlight=False, markup=False)


@app.command("worker")
def worker(
    queue: QueueOption = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, help="Shards this worker runs at once (each on its own hosts).")
    ] = 1,
    name: Annotated[
        str | None, typer.Option("--name", help="The worker's name in the results (default HOSTNAME:PID).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Take host shards from the queue and run them until stopped (SIGINT or SIGTERM: after the running shards)."""
    import os
    import socket

    from fossp.engine.jobs import note_to_stderr
    from fossp.engine.queue import queue_url, run_worker, shown
    from fossp.output import print_json

    url = queue_url(queue)
    called = name or f"{socket.gethostname()}:{os.getpid()}"
    if as_json:
        print_json({"queue": shown(url), "worker": called, "concurrency": concurrency})
    else:
        note_to_stderr(f"worker {called} taking shards from {shown(url)} ({concurrency} at once)")
    run_worker(url, concurrency, called)
