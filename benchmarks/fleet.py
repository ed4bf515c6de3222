"""Fleet speed: FOSSP, pyinfra, ansible-playbook and the bare SSH floor on the same lab hosts.

Run as root from the repository (one command; see benchmarks/README.md)::

    .venv/bin/python benchmarks/fleet.py [--sizes 1 10 50 200] [--runs 5]
        [--scenarios first noop drift] [--tools floor fossp pyinfra ansible]

The same small role for every tool: FOSSP's nginx role (the package, Debian's default
site removed, FOSSP's site file, a document root with a front page, the unit running
and enabled, a reload when a site file changed), written as a pyinfra deploy and as an
Ansible playbook from the very files FOSSP wrote. The floor is a bare asyncssh script:
one connection per host and one command (the check for a no-op; for the other
scenarios the same work as one unconditional shell script, with no checks).

Scenarios: ``first`` (nginx and FOSSP's records purged from every host before each
run), ``noop`` (the headline: everything is in place), ``drift`` (one host's site file
edited before each run). Every run is checked: its output must show the scenario's
changes (none, one host, every host), and after a run that changes something the
hosts' state is verified over SSH. Rounds are interleaved, the order rotated each
round, so a drift in the machine's load hits every tool alike.

Figures per run: wall time; CPU of the command and everything it starts (its own
cgroup: ansible's ssh ControlMaster processes outlive a run and still count); CPU of
the hosts (their cgroups, since on a shared machine /proc/stat deltas mean nothing);
peak RSS (the largest process of the run, from wait4); SSH connections per host (TCP
SYNs to port 22, counted per host address by an iptables chain). Each run is saved
in ``benchmarks/results/fleet-YYYY-MM-DD.json``.

pyinfra and ansible-core are installed from PyPI into the benchmark's own virtualenv
(``--tools-venv``, created on first use), never into the project's. Ansible needs
python3 (and python3-apt for its apt module) on the hosts: the benchmark adds them to
the lab's local repository and installs them before timing anything.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
FOSSP = REPO / ".venv" / "bin" / "fossp"
TOOLS_VENV = Path("/var/lib/fossp/bench/tools")
TOOLS = ("floor", "fossp", "pyinfra", "ansible")
SCENARIOS = ("first", "noop", "drift")
CHAIN = "FOSSP_BENCH"
BENCH_CGROUP = "fossp-bench"

SITE = "/etc/nginx/conf.d/fossp.conf"
DEFAULT_SITE = "/etc/nginx/sites-enabled/default"
DOCUMENT_ROOT = "/srv/www/fossp"
PAGE = f"{DOCUMENT_ROOT}/index.html"

#: One command that says whether a host is in the wanted state (the floor's no-op, and
#: the verification after every run that changes something): exit 0 only if so.
CHECK_SCRIPT = """\
set -e
[ "$(dpkg-query -W -f='${Status}' nginx)" = "install ok installed" ]
[ ! -e "$1" ]
printf '%s' "$2" | cmp -s - "$3"
printf '%s' "$4" | cmp -s - "$5"
systemctl is-active -q nginx
systemctl is-enabled -q nginx
"""

#: The same work as one unconditional script: the floor of a run that changes things.
APPLY_SCRIPT = """\
set -e
export DEBIAN_FRONTEND=noninteractive
dpkg-query -W -f='${Status}' nginx 2>/dev/null | grep -q 'install ok installed' \
  || apt-get install -y -q nginx >/dev/null
rm -f "$1"
printf '%s' "$2" > "$3"
mkdir -p "$(dirname "$5")"
printf '%s' "$4" > "$5"
systemctl enable -q --now nginx
systemctl reload nginx
"""

#: Before each ``first`` run: no nginx and no record of FOSSP's on the host.
RESET_SCRIPT = """\
export DEBIAN_FRONTEND=noninteractive
systemctl stop nginx 2>/dev/null
packages=$(dpkg-query -W -f='${binary:Package}\n' | grep -E '^(nginx|libnginx-mod)')
[ -z "$packages" ] || apt-get purge -y -q $packages >/dev/null 2>&1
apt-get autoremove --purge -y -q >/dev/null 2>&1
rm -rf /etc/nginx /srv/www /var/log/nginx /var/lib/fossp /etc/fossp
if [ -e /usr/lib/os-release ]; then ln -sf ../usr/lib/os-release /etc/os-release; fi
! dpkg-query -W -f='${Status}' nginx 2>/dev/null | grep -q 'install ok installed'
"""

#: Before each ``drift`` run, on the first host.
DRIFT_SCRIPT = 'printf "\\n# drifted\\n" >> "$1"'

PYINFRA_DEPLOY = """\
\"\"\"FOSSP's nginx role as pyinfra operations.\"\"\"

from pyinfra.operations import apt, files, systemd
from pyinfra.operations.util import any_changed

apt.packages(name="nginx present", packages=["nginx"], present=True)
default = files.link(name="default site absent", path={default!r}, present=False)
site = files.put(name="site", src="site.conf", dest={site!r}, user="root", group="root", mode="644")
files.directory(name="document root", path={root!r}, mode="755")
files.put(name="front page", src="index.html", dest={page!r}, user="root", group="root", mode="644")
systemd.service(name="nginx running+enabled", service="nginx", running=True, enabled=True)
systemd.service(name="nginx reload", service="nginx", reloaded=True, _if=any_changed(default, site))
"""

ANSIBLE_PLAYBOOK = """\
# FOSSP's nginx role as an Ansible play.
- hosts: all
  gather_facts: false
  tasks:
    - name: nginx present
      ansible.builtin.apt: {{name: nginx, state: present}}
    - name: default site absent
      ansible.builtin.file: {{path: {default}, state: absent}}
      notify: reload nginx
    - name: site
      ansible.builtin.copy: {{src: site.conf, dest: {site}, owner: root, group: root, mode: "0644"}}
      notify: reload nginx
    - name: document root
      ansible.builtin.file: {{path: {root}, state: directory, mode: "0755"}}
    - name: front page
      ansible.builtin.copy: {{src: index.html, dest: {page}, owner: root, group: root, mode: "0644"}}
    - name: nginx running and enabled
      ansible.builtin.systemd_service: {{name: nginx, state: started, enabled: true}}
  handlers:
    - name: reload nginx
      ansible.builtin.systemd_service: {{name: nginx, state: reloaded}}
"""

#: Ansible as fast as it goes without plugins: forks = N, pipelining, ControlPersist, no facts.
ANSIBLE_CFG = """\
[defaults]
inventory = inventory.ini
forks = {forks}
gathering = explicit
host_key_checking = True
interpreter_python = /usr/bin/python3
retry_files_enabled = False
[ssh_connection]
pipelining = True
control_path_dir = {control}
ssh_args = -o ControlMaster=auto -o ControlPersist=60s -o IdentitiesOnly=yes
  -o UserKnownHostsFile={known_hosts} -o StrictHostKeyChecking=yes
"""


@dataclass(frozen=True)
class Host:
    """One lab host as the tools reach it, and the cgroup its processes run in."""

    name: str
    address: str
    user: str
    key: str
    known_hosts: str
    cgroup: str | None


@dataclass
class Record:
    """One timed run: the fields of benchmarks/results/fleet-*.json."""

    tool: str
    scenario: str
    hosts: int
    round: int
    wall_s: float
    cpu_s: float
    host_cpu_s: float | None
    peak_rss_mb: float
    connections_per_host: float | None
    load_1m: float


@dataclass
class Site:
    """What the role writes, read back from a host FOSSP deployed."""

    site: str
    page: str

    def script_args(self) -> list[str]:
        return [DEFAULT_SITE, self.site, SITE, self.page, PAGE]


@dataclass(frozen=True)
class Run:
    """A command to time and how to tell from its output that it did the scenario's work."""

    tool: str
    argv: list[str]
    check: Callable[[str], str | None]
    cwd: Path | None = None
    env: dict[str, str] | None = None


# -- the floor: asyncssh, one connection and one command per host ------------------------


async def _on_hosts(hosts: list[Host], script: str, args: list[str], timeout: float) -> list[tuple[str, int, str]]:
    """``sh -c SCRIPT`` with ``args`` on every host at once, one connection each."""
    import asyncssh

    keys = asyncssh.load_keypairs([hosts[0].key])
    command = shlex.join(["sh", "-c", script, "fossp-bench", *args])

    async def one(host: Host) -> tuple[str, int, str]:
        async with asyncssh.connect(
            host.address, username=host.user, client_keys=keys, known_hosts=host.known_hosts, agent_path=None
        ) as connection:
            result = await connection.run(command, timeout=timeout)
            return host.name, result.exit_status or 0, str(result.stdout) + str(result.stderr)

    return list(await asyncio.gather(*(one(host) for host in hosts)))


def on_hosts(hosts: list[Host], script: str, args: list[str], timeout: float = 600) -> None:
    """Run ``script`` on every host; any failure stops the benchmark, naming the host."""
    failed = [(name, out) for name, code, out in asyncio.run(_on_hosts(hosts, script, args, timeout)) if code]
    if failed:
        raise SystemExit("on " + ", ".join(f"{name}: {out.strip()[-300:]}" for name, out in failed))


def floor_child(scenario: str, hosts_file: Path) -> None:
    """The floor's timed process: the check (no-op) or the work, on every host."""
    data = json.loads(hosts_file.read_text())
    hosts = [Host(**host) for host in data["hosts"]]
    script = CHECK_SCRIPT if scenario == "noop" else APPLY_SCRIPT
    on_hosts(hosts, script, data["args"])


# -- measuring ------------------------------------------------------------------------------


def unified_root() -> Path | None:
    """The cgroup v2 mount point (the unified tree on a hybrid machine), if any."""
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        if fields[fields.index("-") + 1] == "cgroup2":
            return Path(fields[4])
    return None


def cgroup_cpu(cgroup: Path) -> float:
    """Seconds of CPU used so far by the processes of ``cgroup`` and its children."""
    for line in (cgroup / "cpu.stat").read_text().splitlines():
        key, value = line.split()
        if key == "usage_usec":
            return int(value) / 1e6
    raise SystemExit(f"{cgroup}/cpu.stat has no usage_usec")


class Meter:
    """CPU by cgroup (the tools' and the hosts'), SSH SYNs by iptables counters."""

    def __init__(self, hosts: list[Host]) -> None:
        root = unified_root()
        if root is None:
            raise SystemExit("no cgroup v2 tree: CPU cannot be counted by cgroup")
        self.root = root / BENCH_CGROUP
        self.hosts = hosts
        self.counting = self._set_up_counters()

    def _set_up_counters(self) -> bool:
        commands = [["iptables", "-N", CHAIN], ["iptables", "-F", CHAIN]]
        commands += [["iptables", "-A", CHAIN, "-d", host.address, "-j", "RETURN"] for host in self.hosts]
        commands.append(["iptables", "-I", "OUTPUT", "-p", "tcp", "--syn", "--dport", "22", "-j", CHAIN])
        try:
            for argv in commands[1:] if _chain_exists() else commands:
                subprocess.run(argv, check=True, capture_output=True)
        except (OSError, subprocess.CalledProcessError) as error:
            print(f"iptables unavailable ({error}): SSH connections are not counted", file=sys.stderr)
            return False
        return True

    def close(self) -> None:
        if self.counting:
            subprocess.run(
                ["iptables", "-D", "OUTPUT", "-p", "tcp", "--syn", "--dport", "22", "-j", CHAIN], check=False
            )
            subprocess.run(["iptables", "-F", CHAIN], check=False)
            subprocess.run(["iptables", "-X", CHAIN], check=False)

    def tool_cgroup(self, tool: str) -> Path:
        cgroup = self.root / tool
        cgroup.mkdir(parents=True, exist_ok=True)
        return cgroup

    def host_cpu(self, hosts: list[Host]) -> float | None:
        cgroups = [Path(host.cgroup) for host in hosts if host.cgroup]
        return sum(cgroup_cpu(cgroup) for cgroup in cgroups) if len(cgroups) == len(hosts) else None

    def syns(self, hosts: list[Host]) -> dict[str, int]:
        if not self.counting:
            return {}
        listing = subprocess.run(
            ["iptables", "-L", CHAIN, "-v", "-x", "-n"], check=True, capture_output=True, text=True
        ).stdout
        counts = {}
        for line in listing.splitlines()[2:]:
            fields = line.split()
            counts[fields[-1]] = int(fields[0])
        return {host.name: counts.get(host.address, 0) for host in hosts}

    def measure(self, run: Run, hosts: list[Host]) -> tuple[dict[str, Any], str]:
        """Run ``run`` in its tool's cgroup; its figures and its output."""
        cgroup = self.tool_cgroup(run.tool)
        cpu_before, host_before, syn_before = cgroup_cpu(cgroup), self.host_cpu(hosts), self.syns(hosts)
        with tempfile.TemporaryFile() as output:
            started = time.perf_counter()
            child = subprocess.Popen(
                run.argv,
                cwd=run.cwd,
                env=run.env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                preexec_fn=lambda: (cgroup / "cgroup.procs").write_text("0\n"),
            )
            _, status, usage = os.wait4(child.pid, 0)
            wall = time.perf_counter() - started
            output.seek(0)
            text = output.read().decode(errors="replace")
        host_after, syn_after = self.host_cpu(hosts), self.syns(hosts)
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            raise SystemExit(f"{run.tool}: exit {code}\n$ {shlex.join(run.argv)}\n{text[-3000:]}")
        connections = None
        if syn_after:
            connections = sum(syn_after[h.name] - syn_before[h.name] for h in hosts) / len(hosts)
        figures = {
            "wall_s": round(wall, 3),
            "cpu_s": round(cgroup_cpu(cgroup) - cpu_before, 3),
            "host_cpu_s": None if host_before is None or host_after is None else round(host_after - host_before, 3),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "connections_per_host": connections,
        }
        return figures, text


def _chain_exists() -> bool:
    return subprocess.run(["iptables", "-L", CHAIN, "-n"], capture_output=True, check=False).returncode == 0


# -- the lab ------------------------------------------------------------------------------


def fossp(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run([str(FOSSP), *args], capture_output=True, text=True, check=False)
    if check and completed.returncode != 0:
        raise SystemExit(f"fossp {shlex.join(args)}: exit {completed.returncode}\n{completed.stdout}{completed.stderr}")
    return completed


def lab_hosts() -> dict[str, dict[str, Any]]:
    data = json.loads(fossp("lab", "list", "--json").stdout)
    rows = data["hosts"] if isinstance(data, dict) else data
    return {row["name"]: row for row in rows}


def as_host(row: dict[str, Any]) -> Host:
    unified = unified_root()
    cgroups = [path for path in row.get("cgroups", []) if unified and path.startswith(f"{unified}/")]
    return Host(
        name=row["name"],
        address=row["address"],
        user=row["ssh_user"],
        key=row["key_path"],
        known_hosts=row["known_hosts_path"],
        cgroup=cgroups[0] if cgroups else None,
    )


def targets(hosts: list[Host]) -> list[str]:
    return [argument for host in hosts for argument in ("--target", f"lab:{host.name}")]


def bring_up(names: list[str]) -> list[str]:
    """Start the hosts not running yet (returned: those to bring down at the end)."""
    running = {name for name, row in lab_hosts().items() if row.get("running") and row.get("ssh")}
    missing = [name for name in names if name not in running]
    fossp("lab", "repo", "add", "--role", "nginx", "python3", "python3-apt")
    if missing:
        started = time.perf_counter()
        fossp("lab", "up", *missing)
        print(f"lab: {len(missing)} hosts up in {time.perf_counter() - started:.0f} s")
    return missing


def fossp_deploy(hosts: list[Host]) -> None:
    report = json.loads(fossp("deploy", "nginx", *targets(hosts), "--json").stdout)
    failed = [row["host"] for row in report["hosts"] if not row["ok"]]
    if failed:
        raise SystemExit(f"fossp deploy nginx failed on {failed}")


def read_site(host: Host) -> Site:
    def cat(path: str) -> str:
        return fossp("lab", "ssh", host.name, "--", "cat", path).stdout

    return Site(site=cat(SITE), page=cat(PAGE))


def prepare(hosts: list[Host]) -> Site:
    """nginx deployed by FOSSP everywhere, python3 for Ansible; the files FOSSP wrote."""
    install = "apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3 python3-apt"
    on_hosts(hosts, f"{install} >/dev/null", [])
    fossp_deploy(hosts)
    return read_site(hosts[0])


# -- the tools ------------------------------------------------------------------------------


def tools_venv(folder: Path) -> Path:
    """pyinfra and ansible-core from PyPI in their own virtualenv (made once)."""
    bin_dir = folder / "bin"
    if not (bin_dir / "pyinfra").exists() or not (bin_dir / "ansible-playbook").exists():
        subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
        subprocess.run([str(bin_dir / "pip"), "install", "-q", "pyinfra", "ansible-core"], check=True)
    return bin_dir


def tool_versions(bin_dir: Path) -> dict[str, str]:
    def first_line(*argv: str) -> str:
        return subprocess.run(argv, capture_output=True, text=True, check=False).stdout.strip().splitlines()[0]

    return {
        "fossp": first_line(str(FOSSP), "--version"),
        "pyinfra": first_line(str(bin_dir / "pyinfra"), "--version"),
        "ansible": first_line(str(bin_dir / "ansible-playbook"), "--version"),
    }


def tool_env() -> dict[str, str]:
    """No SSH agent: every tool uses the lab's key only. Bytecode is written and used as
    an installed package's is (some shells here set PYTHONDONTWRITEBYTECODE, which would
    make every run of an editable install compile its modules again)."""
    unwanted = {"SSH_AUTH_SOCK", "PYTHONDONTWRITEBYTECODE"}
    return {key: value for key, value in os.environ.items() if key not in unwanted}


def write_role(folder: Path, site: Site, name: str, template: str) -> None:
    """The role's files for a tool, and its deploy (``name``) from ``template``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "site.conf").write_text(site.site)
    (folder / "index.html").write_text(site.page)
    (folder / name).write_text(template.format(default=DEFAULT_SITE, site=SITE, root=DOCUMENT_ROOT, page=PAGE))


def write_pyinfra(folder: Path, hosts: list[Host], site: Site) -> None:
    write_role(folder, site, "deploy.py", PYINFRA_DEPLOY)
    rows = [
        (
            host.name,
            {
                "ssh_hostname": host.address,
                "ssh_user": host.user,
                "ssh_key": host.key,
                "ssh_known_hosts_file": host.known_hosts,
                "ssh_strict_host_key_checking": "yes",
            },
        )
        for host in hosts
    ]
    (folder / "inventory.py").write_text(f"hosts = {rows!r}\n")


def write_ansible(folder: Path, hosts: list[Host], site: Site) -> None:
    write_role(folder, site, "playbook.yml", ANSIBLE_PLAYBOOK)
    config = ANSIBLE_CFG.format(forks=len(hosts), control=folder / "cp", known_hosts=hosts[0].known_hosts)
    (folder / "ansible.cfg").write_text(config)
    lines = [
        f"{host.name} ansible_host={host.address} ansible_user={host.user} ansible_ssh_private_key_file={host.key}"
        for host in hosts
    ]
    (folder / "inventory.ini").write_text("\n".join(lines) + "\n")


# -- what each run must have done ------------------------------------------------------------


def expected_changes(scenario: str, hosts: list[Host]) -> set[str]:
    return {"noop": set(), "drift": {hosts[0].name}, "first": {host.name for host in hosts}}[scenario]


def changed_fossp(output: str) -> tuple[set[str], list[str]]:
    rows = json.loads(output)["hosts"]
    changed = {row["host"].removeprefix("lab:") for row in rows if row["applied"]}
    return changed, [row["host"] for row in rows if not row["ok"]]


def changed_pyinfra(output: str) -> tuple[set[str], list[str]]:
    changed = set(re.findall(r"\[(\S+)\]\s+Success", output))
    failed = re.findall(r"\[(\S+)\]\s+Error", output)
    return changed, failed


def changed_ansible(output: str) -> tuple[set[str], list[str]]:
    recap = re.findall(r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", output, re.M)
    changed = {name for name, count, _, _ in recap if int(count)}
    failed = [name for name, _, unreachable, fail in recap if int(unreachable) or int(fail)]
    return changed, failed


def floor_changes(scenario: str, hosts: list[Host]) -> Callable[[str], tuple[set[str], list[str]]]:
    """The floor reports nothing; by construction it changes what the scenario needs."""
    return lambda _output: (expected_changes(scenario, hosts), [])


def checker(
    scenario: str, hosts: list[Host], parse: Callable[[str], tuple[set[str], list[str]]]
) -> Callable[[str], str | None]:
    wanted = expected_changes(scenario, hosts)

    def check(output: str) -> str | None:
        changed, failed = parse(output)
        if failed or changed != wanted:
            return f"changed {sorted(changed)} (wanted {sorted(wanted)}), failed {failed}"
        return None

    return check


def runs_for(scenario: str, hosts: list[Host], tools: list[str], bin_dir: Path, scratch: Path, site: Site) -> list[Run]:
    size = len(hosts)
    env = tool_env()
    hosts_file = scratch / f"hosts-{size}.json"
    hosts_file.write_text(json.dumps({"hosts": [asdict(host) for host in hosts], "args": site.script_args()}))
    pyinfra_dir, ansible_dir = scratch / f"pyinfra-{size}", scratch / f"ansible-{size}"
    write_pyinfra(pyinfra_dir, hosts, site)
    write_ansible(ansible_dir, hosts, site)
    every = {
        "floor": Run(
            "floor",
            [sys.executable, __file__, "--floor", scenario, str(hosts_file)],
            checker(scenario, hosts, floor_changes(scenario, hosts)),
            env=env,
        ),
        "fossp": Run(
            "fossp",
            [str(FOSSP), "deploy", "nginx", *targets(hosts), "--json"],
            checker(scenario, hosts, changed_fossp),
            env=env,
        ),
        "pyinfra": Run(
            "pyinfra",
            [str(bin_dir / "pyinfra"), "-y", "inventory.py", "deploy.py"],
            checker(scenario, hosts, changed_pyinfra),
            pyinfra_dir,
            env,
        ),
        "ansible": Run(
            "ansible",
            [str(bin_dir / "ansible-playbook"), "playbook.yml"],
            checker(scenario, hosts, changed_ansible),
            ansible_dir,
            {**env, "ANSIBLE_CONFIG": str(ansible_dir / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"},
        ),
    }
    return [every[tool] for tool in tools]


# -- the rounds -----------------------------------------------------------------------------


def before_run(scenario: str, hosts: list[Host]) -> None:
    if scenario == "first":
        on_hosts(hosts, RESET_SCRIPT, [])
    elif scenario == "drift":
        on_hosts(hosts[:1], DRIFT_SCRIPT, [SITE])


def after_run(scenario: str, hosts: list[Host], site: Site) -> None:
    if scenario != "noop":
        on_hosts(hosts, CHECK_SCRIPT, site.script_args())


@dataclass
class Benchmark:
    meter: Meter
    site: Site
    runs: int
    records: list[Record] = field(default_factory=list)

    def scenario(self, scenario: str, hosts: list[Host], runs: list[Run]) -> None:
        """One warm-up round (not recorded) for a no-op, then the timed rounds, rotated."""
        rounds = self.runs if scenario != "first" else max(1, self.runs // 2)
        for number in range(-1 if scenario == "noop" else 0, rounds):
            shift = max(number, 0) % len(runs)
            for run in runs[shift:] + runs[:shift]:
                self.one(scenario, hosts, run, number)
        if scenario == "first":
            fossp_deploy(hosts)  # FOSSP's records back for the no-op and drift rounds

    def one(self, scenario: str, hosts: list[Host], run: Run, number: int) -> None:
        before_run(scenario, hosts)
        figures, output = self.meter.measure(run, hosts)
        problem = run.check(output)
        if problem:
            raise SystemExit(f"{run.tool} {scenario} at N={len(hosts)}: {problem}\n{output[-3000:]}")
        after_run(scenario, hosts, self.site)
        if number >= 0:
            self.records.append(
                Record(run.tool, scenario, len(hosts), number, load_1m=round(os.getloadavg()[0], 2), **figures)
            )
            print(f"  {scenario:5} N={len(hosts):<3} {run.tool:8} {figures['wall_s']:7.2f} s", flush=True)


def median(records: list[Record], name: str) -> float | None:
    values = [getattr(record, name) for record in records if getattr(record, name) is not None]
    return statistics.median(values) if values else None


def summary(records: list[Record]) -> list[dict[str, Any]]:
    """Medians per (scenario, N, tool), with ratios of wall time to the floor and to FOSSP."""
    keys = sorted(
        {(r.scenario, r.hosts, r.tool) for r in records}, key=lambda k: (SCENARIOS.index(k[0]), k[1], TOOLS.index(k[2]))
    )
    rows = []
    for scenario, hosts, tool in keys:
        group = [r for r in records if (r.scenario, r.hosts, r.tool) == (scenario, hosts, tool)]
        row: dict[str, Any] = {"scenario": scenario, "hosts": hosts, "tool": tool, "runs": len(group)}
        for name in ("wall_s", "cpu_s", "host_cpu_s", "peak_rss_mb", "connections_per_host"):
            row[name] = median(group, name)
        rows.append(row)
    for row in rows:
        peers = {r["tool"]: r["wall_s"] for r in rows if (r["scenario"], r["hosts"]) == (row["scenario"], row["hosts"])}
        row["vs_floor"] = round(row["wall_s"] / peers["floor"], 2) if peers.get("floor") else None
        row["vs_fossp"] = round(row["wall_s"] / peers["fossp"], 2) if peers.get("fossp") else None
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    def cell(value: Any, digits: int = 2) -> str:
        return "-" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)

    print("\n| scenario | N | tool | wall s | / floor | / fossp | CPU s | host CPU s | peak RSS MB | SSH conns/host |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['scenario']} | {row['hosts']} | {row['tool']} | {cell(row['wall_s'])} | {cell(row['vs_floor'])} "
            f"| {cell(row['vs_fossp'])} | {cell(row['cpu_s'])} | {cell(row['host_cpu_s'])} "
            f"| {cell(row['peak_rss_mb'], 0)} | {cell(row['connections_per_host'], 1)} |"
        )


def machine() -> dict[str, Any]:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = next(
        line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
    )
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": round(int(memory) / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def save(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():  # several runs in a day: keep them all
        previous = json.loads(path.read_text())
        document["runs"] = [*previous.get("runs", []), *document["runs"]]
    path.write_text(json.dumps(document, indent=1) + "\n")


@contextmanager
def lab(names: list[str], keep: bool) -> Iterator[list[Host]]:
    started = bring_up(names)
    try:
        rows = lab_hosts()
        yield [as_host(rows[name]) for name in names]
    finally:
        if started and not keep:
            fossp("lab", "down", *started, check=False)
            print(f"lab: brought down {len(started)} hosts")


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--floor":
        floor_child(sys.argv[2], Path(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 50], help="numbers of hosts N")
    parser.add_argument("--runs", type=int, default=5, help="timed rounds per scenario and N (first: half)")
    parser.add_argument("--scenarios", nargs="+", choices=SCENARIOS, default=list(SCENARIOS))
    parser.add_argument("--tools", nargs="+", choices=TOOLS, default=list(TOOLS))
    parser.add_argument("--prefix", default="bench-", help="lab host names: PREFIX1 .. PREFIXN")
    parser.add_argument("--tools-venv", type=Path, default=TOOLS_VENV, help="virtualenv for pyinfra and ansible")
    parser.add_argument("--keep", action="store_true", help="leave the lab hosts this run started up")
    parser.add_argument("--out", type=Path, help="results file (default benchmarks/results/fleet-DATE.json)")
    args = parser.parse_args()
    bin_dir = tools_venv(args.tools_venv)
    started_at = datetime.datetime.now(datetime.UTC)
    out = args.out or RESULTS / f"fleet-{started_at:%Y-%m-%d}.json"
    names = [f"{args.prefix}{number}" for number in range(1, max(args.sizes) + 1)]
    load = [os.getloadavg()[0]]
    records: list[Record] = []
    try:
        with lab(names, args.keep) as hosts, tempfile.TemporaryDirectory(prefix="fossp-bench-") as scratch:
            site = prepare(hosts)
            meter = Meter(hosts)
            bench = Benchmark(meter, site, args.runs, records)
            try:
                for size in sorted(args.sizes):
                    for scenario in args.scenarios:
                        runs = runs_for(scenario, hosts[:size], args.tools, bin_dir, Path(scratch), site)
                        bench.scenario(scenario, hosts[:size], runs)
                        load.append(os.getloadavg()[0])
            finally:
                meter.close()
    finally:  # what was measured is kept even when a later run stops the benchmark
        if records:
            report(out, records, started_at, load, bin_dir)


def report(out: Path, records: list[Record], started_at: datetime.datetime, load: list[float], bin_dir: Path) -> None:
    rows = summary(records)
    print_table(rows)
    run = {
        "started_at": started_at.isoformat(timespec="seconds"),
        "machine": machine(),
        "load_1m": {"min": min(load), "max": max(load)},
        "versions": tool_versions(bin_dir),
        "records": [asdict(record) for record in records],
        "summary": rows,
    }
    save(out, {"schema_version": 1, "runs": [run]})
    print(f"\nsaved {out}")


if __name__ == "__main__":
    main()
