"""A host's result as the queue stores it (JSON in fossp_queue.results) reads back to a plan
or a deploy outcome whose JSON is the one a local run prints, byte for byte."""

from __future__ import annotations

import json

from fossp.engine.apply import Outcome
from fossp.engine.jobs import outcome_data
from fossp.engine.operations import Operation, OpKind, Plan
from fossp.engine.probes.common import ProbeResult
from fossp.engine.queue import decode, encode, shards
from fossp.hosts.inventory import HostSpec

NGINX = "FOSSP-WDSNG"
WRITTEN = Operation(
    role=NGINX, kind=OpKind.FILE, target="/etc/nginx/conf.d/fossp.conf", reason="missing",
    content=b"server {}\n", mode="0600", diff="+server {}\n",
)  # fmt: skip
KEPT = Operation(role=NGINX, kind=OpKind.START, target="nginx.service", reason="running", change=False)


def _stored(value: object, error: str | None = None) -> tuple[object, ...]:
    """The row the submitter reads: the value through JSON, as PostgreSQL's json gives it back."""
    return ("h1", "w1", error is None, error, 1.5, json.loads(json.dumps(encode(value))), None)


def test_a_stored_plan_reads_back_to_the_same_summary_and_text() -> None:
    plan = Plan(host="h1", family="debian", roles=[NGINX], operations=[WRITTEN, KEPT], notes=["busy"])
    back = decode(_stored(plan))
    assert back.ok and back.host == "h1" and back.seconds == 1.5
    assert json.dumps(back.value.summary()) == json.dumps(plan.summary())  # sha256 and the hidden diff kept
    assert [(op.kind, op.target, op.change) for op in back.value.operations] == [
        (op.kind, op.target, op.change) for op in plan.operations
    ]
    assert len(back.value.changes) == 1


def test_a_stored_deploy_outcome_reads_back_to_the_same_json() -> None:
    outcome = Outcome(
        applied=[WRITTEN], probes=[ProbeResult(NGINX, "http", "http", True, "200")],
        states={NGINX: "running"}, run="20261203T2000Z", snapshots={"pre": 4, "post": 5}, notes=["n"],
    )  # fmt: skip
    back = decode(_stored(outcome))
    assert json.dumps(outcome_data(back.value)) == json.dumps(outcome_data(outcome))
    assert back.value.failed_roles == []


def test_shards_keep_the_hosts_order_and_size() -> None:
    hosts = [HostSpec(name=f"h{i}", address=f"10.0.0.{i}") for i in range(5)]
    assert [[h.name for h in shard] for shard in shards(hosts, 2)] == [["h0", "h1"], ["h2", "h3"], ["h4"]]
