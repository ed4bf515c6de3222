"""FOSSP vs pyinfra, side by side: the same no-op nginx work on the same lab hosts.

Run as root from the repository::

    .venv/bin/python benchmarks/fleet_vs_pyinfra.py [--sizes 1 5 10] [--runs 7]
        [--pyinfra /tmp/pyinfra-venv/bin/pyinfra] [--breakdown] [--json-out FILE]

pyinfra lives in a throwaway virtualenv, never in the project's
(``python3 -m venv /tmp/pyinfra-venv && /tmp/pyinfra-venv/bin/pip install pyinfra``);
without it the pyinfra columns are skipped with a message.

What it does:

1. brings up lab hosts ``bench-1 .. bench-<max N>`` (those not running already; only
   those are brought down at the end, whatever happens) and deploys nginx on them with
   ``fossp deploy nginx``, so every later run has nothing to do;
2. writes a pyinfra inventory (the lab's address, key and known_hosts, strict host key
   checking) and an equivalent deploy: ``apt.packages`` nginx present, ``files.put`` of
   the very file FOSSP wrote (/etc/nginx/conf.d/fossp.conf, read back from bench-1, root
   0644), ``systemd.service`` nginx running and enabled;
3. for every N, times these commands as separate processes, interleaved round by round
   (one warm-up round, then ``--runs`` rounds, order rotated each round), and reports the
   median wall time and the median CPU time of the controller-side process:

   * ``fossp plan nginx --target lab:bench-1 ... --json``   (every plan: 0 changes)
   * ``fossp status --target lab:bench-1 ... --json``       (every role: running)
   * ``fossp deploy nginx --target ... --json``             (no-op: nothing applied)
   * ``pyinfra INVENTORY deploy.py --dry``                   (every operation: no change)
   * ``pyinfra -y INVENTORY deploy.py``                      (every operation: "No changes")

   Every run's output is checked for the no-op; a run that changed something or failed
   stops the benchmark.
4. times start-up: ``python -c pass`` (the floor), ``fossp --help``, ``fossp roles list``,
   ``pyinfra --version``;
5. with ``--breakdown``: where a ``fossp plan``/``fossp status`` on one host spends its
   wall time, phase by phase, in-process (perf_counter around FOSSP's own functions, no
   profiler overhead; see ``phases_child``).

The lab hosts share the controller's 2 cores (their sshd, shell and systemctl run there
too), so both tools pay for the hosts' side as well; other lab users on the machine add
noise, which is why rounds are interleaved and the load average is printed.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_FOSSP = REPO / ".venv" / "bin" / "fossp"
DEFAULT_PYINFRA = Path("/tmp/pyinfra-venv/bin/pyinfra")
CONFIG_PATH = "/etc/nginx/conf.d/fossp.conf"
PYINFRA_OPERATIONS = 3

DEPLOY_PY = '''\
"""The FOSSP nginx role's no-op work, as pyinfra operations."""

from pyinfra.operations import apt, files, systemd

apt.packages(name="nginx present", packages=["nginx"], present=True)
files.put(
    name="fossp.conf", src="fossp.conf", dest="{dest}", user="root", group="root", mode="644"
)
systemd.service(name="nginx running+enabled", service="nginx", running=True, enabled=True)
'''

Check = Callable[[str], str | None]


@dataclass(frozen=True)
class Command:
    """One command to time; ``check`` returns a problem with its output, or None."""

    label: str
    argv: list[str]
    check: Check
    cwd: Path | None = None
    env: dict[str, str] | None = None


@dataclass
class Samples:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    @property
    def median_wall(self) -> float:
        return statistics.median(self.wall)

    @property
    def median_cpu(self) -> float:
        return statistics.median(self.cpu)


def run_timed(command: Command) -> tuple[float, float, str]:
    """Wall and CPU seconds (user + system of the child and its children) and stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    completed = subprocess.run(
        command.argv, cwd=command.cwd, env=command.env, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if completed.returncode != 0:
        raise SystemExit(
            f"{command.label}: exit {completed.returncode}\n$ {' '.join(command.argv)}\n"
            f"{completed.stdout[-2000:]}{completed.stderr[-2000:]}"
        )
    output = completed.stdout + completed.stderr
    problem = command.check(output)
    if problem:
        raise SystemExit(f"{command.label}: not a no-op run: {problem}\n$ {' '.join(command.argv)}\n{output[-3000:]}")
    return wall, cpu, output


def measure(commands: list[Command], runs: int) -> dict[str, Samples]:
    """One warm-up round, then ``runs`` rounds; the order rotates so load drifts hit all alike."""
    for command in commands:
        run_timed(command)
    samples = {command.label: Samples() for command in commands}
    for round_number in range(runs):
        shift = round_number % len(commands)
        for command in commands[shift:] + commands[:shift]:
            wall, cpu, _ = run_timed(command)
            samples[command.label].wall.append(wall)
            samples[command.label].cpu.append(cpu)
    return samples


# -- the lab ----------------------------------------------------------------------------


def fossp_json(fossp: Path, *args: str) -> Any:
    completed = subprocess.run([str(fossp), *args], capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"fossp {' '.join(args)}: exit {completed.returncode}\n{completed.stdout}{completed.stderr}")
    return json.loads(completed.stdout)


def lab_records(fossp: Path) -> dict[str, dict[str, Any]]:
    return {record["name"]: record for record in fossp_json(fossp, "lab", "list", "--json")["hosts"]}


def lab_up(fossp: Path, names: list[str]) -> None:
    subprocess.run([str(fossp), "lab", "up", *names], check=True, stdout=subprocess.DEVNULL)


def lab_down(fossp: Path, names: list[str]) -> None:
    if names:
        subprocess.run([str(fossp), "lab", "down", *names], check=False, stdout=subprocess.DEVNULL)


def targets(names: list[str]) -> list[str]:
    return [argument for name in names for argument in ("--target", f"lab:{name}")]


def deploy_nginx(fossp: Path, names: list[str]) -> None:
    """The first deploy, which makes every later run a no-op."""
    report = fossp_json(fossp, "deploy", "nginx", *targets(names), "--json")
    failed = [host["host"] for host in report["hosts"] if not host["ok"]]
    if failed:
        raise SystemExit(f"fossp deploy nginx failed on {failed}")


def read_config(fossp: Path, name: str) -> str:
    completed = subprocess.run(
        [str(fossp), "lab", "ssh", name, "--", "cat", CONFIG_PATH], capture_output=True, text=True, check=True
    )
    return completed.stdout


# -- no-op checks of every run's output --------------------------------------------------


def check_plan(hosts: int) -> Check:
    def check(output: str) -> str | None:
        plans = json.loads(output)["plans"]
        busy = [plan["host"] for plan in plans if plan["changes"]]
        if len(plans) != hosts or busy:
            return f"{len(plans)} plans for {hosts} hosts, changes on {busy}"
        return None

    return check


def check_status(hosts: int) -> Check:
    def check(output: str) -> str | None:
        report = json.loads(output)["hosts"]
        states = [role["state"] for host in report for role in host["roles"]]
        if len(report) != hosts or states != ["running"] * hosts:
            return f"{len(report)} hosts, states {states}"
        return None

    return check


def check_deploy(hosts: int) -> Check:
    def check(output: str) -> str | None:
        report = json.loads(output)["hosts"]
        applied = [host["applied"] for host in report if host["applied"] or not host["ok"]]
        if len(report) != hosts or applied:
            return f"{len(report)} hosts, applied {applied}"
        return None

    return check


def check_pyinfra(hosts: int, dry: bool) -> Check:
    def check(output: str) -> str | None:
        connected = len(re.findall(r"\]\s+Connected", output))
        if connected != hosts:
            return f"{connected} of {hosts} hosts connected"
        if dry:
            # "--> Detected changes:" table: operation name, Change, Conditional Change.
            rows = re.findall(r"^\s{4}(nginx present|fossp\.conf|nginx running\+enabled)\s+(\S+)", output, re.M)
            changed = [name for name, change in rows if change != "-"]
            if len(rows) != PYINFRA_OPERATIONS or changed:
                return f"dry-run rows {rows}"
            return None
        unchanged = len(re.findall(r"\]\s+No changes", output))
        if unchanged != PYINFRA_OPERATIONS * hosts or re.search(r"\]\s+Success", output):
            return f"{unchanged} of {PYINFRA_OPERATIONS * hosts} operations without changes"
        return None

    return check


def accept(output: str) -> str | None:
    return None


# -- pyinfra files -----------------------------------------------------------------------


def write_pyinfra_files(folder: Path, records: list[dict[str, Any]], config: str) -> Path:
    """inventory.py for these hosts (same key and known_hosts as FOSSP, strict checking)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "fossp.conf").write_text(config, encoding="utf-8")
    (folder / "deploy.py").write_text(DEPLOY_PY.format(dest=CONFIG_PATH), encoding="utf-8")
    hosts = [
        (
            record["name"],
            {
                "ssh_hostname": record["address"],
                "ssh_user": record["ssh_user"],
                "ssh_key": record["key_path"],
                "ssh_known_hosts_file": record["known_hosts_path"],
                "ssh_strict_host_key_checking": "yes",
            },
        )
        for record in records
    ]
    inventory = folder / "inventory.py"
    inventory.write_text(f"hosts = {hosts!r}\n", encoding="utf-8")
    return inventory


def pyinfra_env() -> dict[str, str]:
    """No SSH agent: pyinfra uses the lab key only, as FOSSP does."""
    return {key: value for key, value in os.environ.items() if key != "SSH_AUTH_SOCK"}


# -- the runs ----------------------------------------------------------------------------


@dataclass
class SizeResult:
    hosts: int
    samples: dict[str, Samples]
    load: tuple[float, float]


FOSSP_LABELS = ("fossp plan", "fossp status", "fossp deploy (no-op)")
PYINFRA_LABELS = ("pyinfra --dry", "pyinfra -y (no-op)")
RATIOS = (
    ("plan / --dry", "fossp plan", "pyinfra --dry"),
    ("status / --dry", "fossp status", "pyinfra --dry"),
    ("deploy / -y", "fossp deploy (no-op)", "pyinfra -y (no-op)"),
)


def fleet_commands(
    fossp: Path, pyinfra: Path | None, names: list[str], records: dict[str, dict[str, Any]], config: str, scratch: Path
) -> list[Command]:
    count = len(names)
    commands = [
        Command("fossp plan", [str(fossp), "plan", "nginx", *targets(names), "--json"], check_plan(count)),
        Command("fossp status", [str(fossp), "status", *targets(names), "--json"], check_status(count)),
        Command(
            "fossp deploy (no-op)", [str(fossp), "deploy", "nginx", *targets(names), "--json"], check_deploy(count)
        ),
    ]
    if pyinfra is not None:
        folder = scratch / f"pyinfra-{count}"
        inventory = write_pyinfra_files(folder, [records[name] for name in names], config)
        env = pyinfra_env()
        commands += [
            Command(
                "pyinfra --dry",
                [str(pyinfra), inventory.name, "deploy.py", "--dry"],
                check_pyinfra(count, dry=True),
                folder,
                env,
            ),
            Command(
                "pyinfra -y (no-op)",
                [str(pyinfra), "-y", inventory.name, "deploy.py"],
                check_pyinfra(count, dry=False),
                folder,
                env,
            ),
        ]
    return commands


def startup_commands(fossp: Path, pyinfra: Path | None) -> list[Command]:
    python = fossp.parent / "python"
    commands = [
        Command("python -c pass (project venv)", [str(python), "-c", "pass"], accept),
        Command("fossp --help", [str(fossp), "--help"], accept),
        Command("fossp roles list", [str(fossp), "roles", "list"], accept),
    ]
    if pyinfra is not None:
        commands.append(Command("pyinfra --version", [str(pyinfra), "--version"], accept))
    return commands


def fmt(seconds: float) -> str:
    return f"{seconds:.2f}"


def print_fleet_table(results: list[SizeResult], with_pyinfra: bool) -> None:
    labels = [*FOSSP_LABELS, *(PYINFRA_LABELS if with_pyinfra else ())]
    print("\nWall time, median seconds (CPU time of the controller process in brackets):\n")
    header = ["N", *labels, *([name for name, _, _ in RATIOS] if with_pyinfra else []), "load avg"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for result in results:
        cells = [str(result.hosts)]
        cells += [
            f"{fmt(result.samples[label].median_wall)} ({fmt(result.samples[label].median_cpu)})" for label in labels
        ]
        if with_pyinfra:
            cells += [
                f"{result.samples[ours].median_wall / result.samples[theirs].median_wall:.2f}"
                for _, ours, theirs in RATIOS
            ]
        cells.append(f"{result.load[0]:.1f}-{result.load[1]:.1f}")
        print("| " + " | ".join(cells) + " |")


def print_startup_table(samples: dict[str, Samples]) -> None:
    print("\nStart-up, median seconds:\n")
    print("| command | wall | CPU |\n|---|---|---|")
    for label, sample in samples.items():
        print(f"| {label} | {sample.median_wall:.3f} | {sample.median_cpu:.3f} |")


# -- where a FOSSP run spends its time ----------------------------------------------------

PHASES_FLAG = "--phases-of"


def phases_child(argv: list[str]) -> None:
    """Run `fossp ARGV` in this process with perf_counter around FOSSP's own functions.

    Imports are timed where they happen: the CLI's own, then the modules this harness needs
    to wrap functions in (they would be imported later anyway); asyncssh (imported by the
    first connect), and SQLAlchemy (imported when the stage gate database is read) are
    timed inside the phases that trigger them. Prints one JSON object.
    """
    started = time.perf_counter()
    timings: dict[str, float] = {}

    def timed_import(label: str, *modules: str) -> None:
        begin = time.perf_counter()
        for module in modules:
            __import__(module)
        timings[label] = time.perf_counter() - begin

    timed_import("import fossp.cli.main (typer, rich, command modules)", "fossp.cli.main")
    timed_import(
        "import catalog, facts, gate, planner modules (pydantic models)",
        "fossp.catalog.loader",
        "fossp.catalog.status",
        "fossp.gate",
        "fossp.hosts.connector",
        "fossp.hosts.facts",
        "fossp.engine.planner",
        "fossp.cli.deploy_cmds",
    )
    timed_import("import asyncssh", "asyncssh")
    timed_import("import engine modules (apply, status, fleet)", "fossp.engine.apply", "fossp.engine.status")

    def add(label: str, seconds: float) -> None:
        timings[label] = timings.get(label, 0.0) + seconds

    def wrap(owner: Any, name: str, label: str) -> None:
        original = getattr(owner, name)
        if hasattr(original, "__func__") and isinstance(owner, type):  # a classmethod
            original = original.__func__

            @functools.wraps(original)
            async def wrapped_cls(cls: Any, *args: Any, **kwargs: Any) -> Any:
                begin = time.perf_counter()
                try:
                    return await original(cls, *args, **kwargs)
                finally:
                    add(label, time.perf_counter() - begin)

            setattr(owner, name, classmethod(wrapped_cls))
            return
        if asyncio_function(original):

            @functools.wraps(original)
            async def wrapped_async(*args: Any, **kwargs: Any) -> Any:
                begin = time.perf_counter()
                try:
                    return await original(*args, **kwargs)
                finally:
                    add(label, time.perf_counter() - begin)

            setattr(owner, name, wrapped_async)
            return

        @functools.wraps(original)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            begin = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                add(label, time.perf_counter() - begin)

        setattr(owner, name, wrapped)

    modules = sys.modules
    loader, gate, deploy_cmds = modules["fossp.catalog.loader"], modules["fossp.gate"], modules["fossp.cli.deploy_cmds"]
    connector, apply, status = (
        modules["fossp.hosts.connector"],
        modules["fossp.engine.apply"],
        modules["fossp.engine.status"],
    )
    wrap(deploy_cmds, "_hosts", "resolve --target lab:NAME (cli/deploy_cmds.py _hosts)")
    wrap(loader, "read_yaml", "catalog: yaml.safe_load, pure-Python SafeLoader (catalog/loader.py read_yaml)")
    wrap(loader, "parse_model", "catalog: pydantic validation (catalog/loader.py parse_model)")
    wrap(gate, "catalog_status", "gate db: import sqlalchemy, open read-only, read (gate/__init__.py catalog_status)")
    wrap(deploy_cmds, "_run", "hosts: asyncio.run(run_fleet) total (cli/deploy_cmds.py _run)")
    wrap(connector.SshConnector, "open", "hosts: SSH connect+auth (hosts/connector.py SshConnector.open)")
    wrap(connector.SshConnector, "run", "hosts: remote commands (hosts/connector.py SshConnector.run)")
    wrap(apply, "plan_on", "hosts: facts+state+plan (engine/apply.py plan_on)")
    wrap(status, "status_host", "hosts: status_host incl. probes (engine/status.py status_host)")

    main = modules["fossp.cli.main"]
    sys.argv = ["fossp", *argv]
    stdout = sys.stdout
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - closed at exit
    try:
        main.run()
    except SystemExit as stop:
        if stop.code not in (0, None):
            raise
    finally:
        sys.stdout.close()
        sys.stdout = stdout
    timings["total in-process (interpreter start-up excluded)"] = time.perf_counter() - started
    print(json.dumps(timings))


def asyncio_function(function: Any) -> bool:
    import inspect

    return inspect.iscoroutinefunction(function)


def breakdown(names: list[str], rounds: int) -> None:
    for argv in (["plan", "nginx", *targets(names), "--json"], ["status", *targets(names), "--json"]):
        runs: list[dict[str, float]] = []
        for _ in range(rounds):
            completed = subprocess.run(
                [sys.executable, __file__, PHASES_FLAG, *argv], capture_output=True, text=True, check=True
            )
            runs.append(json.loads(completed.stdout.splitlines()[-1]))
        print(f"\nWhere `fossp {' '.join(argv)}` spends its wall time (median of {rounds} in-process runs, ms):\n")
        print("| ms | phase |\n|---|---|")
        for label in runs[0]:
            print(f"| {statistics.median(run.get(label, 0.0) for run in runs) * 1000:.0f} | {label} |")


# -- main --------------------------------------------------------------------------------


def find_pyinfra(option: str) -> Path | None:
    path = Path(option)
    if path.is_file() and os.access(path, os.X_OK):
        return path
    print(
        f"pyinfra not found at {path}: pyinfra columns skipped. Install it in a throwaway venv:\n"
        "  python3 -m venv /tmp/pyinfra-venv && /tmp/pyinfra-venv/bin/pip install pyinfra\n"
        "and pass --pyinfra /tmp/pyinfra-venv/bin/pyinfra",
        file=sys.stderr,
    )
    return None


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == PHASES_FLAG:
        phases_child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 5, 10], help="numbers of hosts N")
    parser.add_argument("--runs", type=int, default=7, help="timed rounds per N (after one warm-up round)")
    parser.add_argument("--fossp", type=Path, default=DEFAULT_FOSSP, help="the fossp executable")
    parser.add_argument("--pyinfra", default=str(DEFAULT_PYINFRA), help="the pyinfra executable (own venv)")
    parser.add_argument("--prefix", default="bench-", help="lab host names: PREFIX1 .. PREFIXN")
    parser.add_argument("--breakdown", action="store_true", help="phase by phase timing of plan and status, N=1")
    parser.add_argument("--json-out", type=Path, help="write all samples here")
    args = parser.parse_args()
    fossp: Path = args.fossp
    pyinfra = find_pyinfra(args.pyinfra)
    names = [f"{args.prefix}{i}" for i in range(1, max(args.sizes) + 1)]

    startup = measure(startup_commands(fossp, pyinfra), args.runs)
    print_startup_table(startup)

    running = {name for name, record in lab_records(fossp).items() if record.get("running")}
    started = [name for name in names if name not in running]
    results: list[SizeResult] = []
    try:
        begin = time.perf_counter()
        lab_up(fossp, started)
        deploy_nginx(fossp, names)
        took = time.perf_counter() - begin
        print(f"\nlab: {len(started)} hosts brought up, nginx deployed on {len(names)}: {took:.1f} s")
        records = lab_records(fossp)
        config = read_config(fossp, names[0])
        with tempfile.TemporaryDirectory(prefix="fossp-vs-pyinfra-") as scratch:
            for size in args.sizes:
                load_before = os.getloadavg()[0]
                commands = fleet_commands(fossp, pyinfra, names[:size], records, config, Path(scratch))
                samples = measure(commands, args.runs)
                results.append(SizeResult(size, samples, (load_before, os.getloadavg()[0])))
                print_fleet_table(results[-1:], pyinfra is not None)
            if args.breakdown:
                breakdown(names[:1], args.runs)
    finally:
        lab_down(fossp, started)
        print(f"\nlab: brought down {started or 'nothing'}")
    print_fleet_table(results, pyinfra is not None)
    print("\nCommands (N hosts; pyinfra runs in a folder holding inventory.py, deploy.py, fossp.conf):")
    for line in (
        f"{fossp} plan nginx --target lab:bench-1 ... --target lab:bench-N --json",
        f"{fossp} status --target lab:bench-1 ... --target lab:bench-N --json",
        f"{fossp} deploy nginx --target lab:bench-1 ... --target lab:bench-N --json",
        f"{args.pyinfra} inventory.py deploy.py --dry",
        f"{args.pyinfra} -y inventory.py deploy.py",
    ):
        print(f"  {line}")
    if args.json_out:
        data = {
            "startup": {label: sample.__dict__ for label, sample in startup.items()},
            "fleet": [
                {"hosts": r.hosts, "load": r.load, "samples": {k: v.__dict__ for k, v in r.samples.items()}}
                for r in results
            ],
        }
        args.json_out.write_text(json.dumps(data, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
