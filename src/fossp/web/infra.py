"""The Infrastructure Tool behind the web console: catalog, selection, hosts and runs.

Everything here calls what the CLI calls (selection.recommend, engine.jobs, the fleet):
the console adds only where things are kept. Its folder (``FOSSP_WEB_DIR``, by default
/var/lib/fossp/web) holds the saved profiles (secrets typed in the wizard in 0600 files
beside them, as `fossp recommend --save` keeps them), the inventory of hosts added in the
console and their trusted SSH host keys (its own known_hosts file, written only after a
person confirmed the fingerprint).
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from fossp.gate.errors import Invalid, NotFound, Refused
from fossp.gate.urls import SYSTEM_DIR, USER_DIR
from fossp.hosts.connector import HostError, load_asyncssh

if TYPE_CHECKING:
    from fossp.catalog.loader import Catalog
    from fossp.catalog.schema import Role
    from fossp.engine.fleet import HostResult
    from fossp.hosts.inventory import HostSpec
    from fossp.selection.recommend import Recommendation
    from fossp.web.runs import Progress

#: The host key asked for first (as OpenSSH's ssh does): the one the person is likely to
#: have the fingerprint of, and the one later connections verify against.
PREFERRED = ["ssh-ed25519", "ecdsa-sha2-nistp256", "rsa-sha2-512", "rsa-sha2-256"]
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


def web_dir() -> Path:
    """FOSSP_WEB_DIR, else /var/lib/fossp/web where writable, else ~/.local/share/fossp/web."""
    configured = os.environ.get("FOSSP_WEB_DIR")
    if configured:
        return Path(configured)
    return (SYSTEM_DIR if os.access(SYSTEM_DIR, os.W_OK) else USER_DIR) / "web"


def checked_name(field: str, value: str) -> str:
    if not NAME.match(value):
        raise Invalid(field, "letters, digits, '.', '_' and '-' only, starting with a letter or digit (at most 63)")
    return value


#: Seconds the console waits for a host's SNMP agent (a page reads its hosts at once).
HEALTH_TIMEOUT = 2.0


@dataclass(frozen=True)
class HostKey:
    """A host's SSH key as it was offered, before anyone trusts it."""

    address: str
    port: int
    key_type: str
    fingerprint: str
    public: str  # "TYPE BASE64", as known_hosts holds it


async def scan_host_key(address: str, port: int) -> HostKey:
    """The key the host offers (no login, nothing trusted yet): what a person confirms."""
    asyncssh = load_asyncssh()

    try:
        key = await asyncio.wait_for(asyncssh.get_server_host_key(address, port, server_host_key_algs=PREFERRED), 20)
    except (OSError, asyncssh.Error, TimeoutError) as error:
        reason = getattr(error, "reason", None) or str(error) or type(error).__name__
        raise HostError(f"{address}:{port}: cannot reach it: {reason}", "unreachable") from None
    if key is None:
        raise HostError(f"{address}:{port}: offered no host key")
    public = " ".join(key.export_public_key("openssh").decode().split()[:2])
    return HostKey(address, port, key.get_algorithm(), key.get_fingerprint("sha256"), public)


class Infra:
    """The console's profiles, inventory and known hosts, in one folder."""

    def __init__(self, folder: Path, db_url: str | None) -> None:
        self.folder, self.db_url = folder, db_url
        self.profiles = folder / "profiles"
        self.inventory_path = folder / "inventory.yaml"
        self.known_hosts = folder / "known_hosts"

    # the catalog and selection

    def catalog(self) -> Catalog:
        """The catalog with the statuses the console's gate database gives its roles."""
        from fossp.catalog.status import governed_catalog

        return governed_catalog(self.db_url)

    def recommend(
        self,
        wanted: list[str],
        family: str | None,
        include_preview: bool = False,
        settings: dict[str, dict[str, str]] | None = None,
    ) -> Recommendation:
        """`fossp recommend`'s answer; ``settings`` are form fields (empty: not given)."""
        from fossp.catalog.schema import Family
        from fossp.cli.catalog_cmds import parse_choice
        from fossp.selection.recommend import recommend

        texts = [text for text in (t.strip() for t in wanted) if text]
        if not texts:
            raise Invalid("wanted", "say what you need (words or a sentence), or pick from the list")
        catalog = self.catalog()
        chosen_family = parse_choice("family", family, Family) if family else None
        first = recommend(texts, catalog, chosen_family, include_preview)  # which roles the fields are for
        given = self._typed(first, settings or {})
        return recommend(texts, catalog, chosen_family, include_preview, given) if given else first

    def _typed(self, result: Recommendation, fields: dict[str, dict[str, str]]) -> dict[str, dict[str, Any]]:
        """Form fields of the chosen roles as setting values; an empty field is not given."""
        from fossp.selection.profile import typed_value

        roles = {c.role.id: c.role for c in result.choices}
        typed: dict[str, dict[str, Any]] = {}
        for role_id, values in fields.items():
            role = roles.get(role_id)
            if role is None:
                raise Invalid(f"settings.{role_id}", "not among the recommended roles")
            for name, raw in values.items():
                if raw.strip():
                    typed.setdefault(role_id, {})[name] = _checked(role, name, typed_value(role.setting(name), raw))
        return typed

    def save_profile(
        self, name: str, wanted: list[str], family: str | None, settings: dict[str, dict[str, str]]
    ) -> Path:
        """Save the recommendation as profile ``name``, refused while a setting with no safe
        default is empty; typed secrets go to 0600 files the profile names."""
        from fossp.selection.profile import keep_secrets_apart, save_profile

        path = self.profile_path(checked_name("name", name))
        result = self.recommend(wanted, family, settings=settings)
        missing = result.to_choose()
        if missing:
            role, setting = missing[0]
            raise Invalid(f"{role.name}.{setting.name}", "has no safe default: fill it in")
        catalog = self.catalog()
        secrets = {  # typed secrets; a reference ({from_env: VAR}) stays in the profile as given
            c.role.id: {k: v for k, v in c.settings.items() if isinstance(v, str) and _secret(c.role, k)}
            for c in result.choices
        }
        self._private_folder(self.profiles)
        save_profile(keep_secrets_apart(result.profile(), secrets, path, catalog), path, catalog)
        return path

    def profile_path(self, name: str) -> Path:
        return self.profiles / f"{name}.yaml"

    def profile_names(self) -> list[str]:
        return sorted(p.stem for p in self.profiles.glob("*.yaml")) if self.profiles.is_dir() else []

    def load_profile(self, name: str) -> Any:
        from fossp.selection.profile import load_profile

        path = self.profile_path(checked_name("profile", name))
        if not path.is_file():
            raise NotFound(f"profile {name}: no such profile")
        return load_profile(path, self.catalog())

    # hosts

    def hosts(self) -> dict[str, HostSpec]:
        from fossp.hosts.inventory import load_inventory

        return load_inventory(self.inventory_path).hosts if self.inventory_path.is_file() else {}

    def host(self, name: str) -> HostSpec:
        found = self.hosts().get(name)
        if found is None:
            raise NotFound(f"host {name}: not in the console's inventory (add it first)")
        return found

    async def add_host(
        self, name: str, address: str, port: int, user: str, key: str | None, fingerprint: str
    ) -> HostSpec:
        """Trust the host's key only if it is still the one the person confirmed, then keep
        the host in the inventory."""
        checked_name("name", name)
        if name in self.hosts():
            raise Refused(f"host {name}: already in the inventory")
        offered = await scan_host_key(address, port)
        if offered.fingerprint != fingerprint:
            raise Refused(
                f"host {name}: its key is now {offered.fingerprint}, not the {fingerprint} you confirmed; "
                "nothing was trusted"
            )
        self._trust(offered)
        entry = {"address": address, "port": port, "user": user, "known_hosts": str(self.known_hosts)}
        if key:
            entry["key"] = key
        self._write_inventory({**self._entries(), name: entry})
        return self.host(name)

    def _trust(self, key: HostKey) -> None:
        pattern = key.address if key.port == 22 else f"[{key.address}]:{key.port}"
        kept = self.known_hosts.read_text().splitlines() if self.known_hosts.is_file() else []
        lines = [line for line in kept if line.split(" ", 1)[0] != pattern] + [f"{pattern} {key.public}"]
        self._write_private(self.known_hosts, "\n".join(lines) + "\n")

    def _entries(self) -> dict[str, Any]:
        if not self.inventory_path.is_file():
            return {}
        data = yaml.safe_load(self.inventory_path.read_text()) or {}
        hosts: dict[str, Any] = data.get("hosts") or {}
        return hosts

    def _write_inventory(self, hosts: dict[str, Any]) -> None:
        text = yaml.safe_dump({"fossp_inventory": 1, "hosts": hosts}, sort_keys=False)
        self._write_private(self.inventory_path, text)

    def _write_private(self, path: Path, text: str) -> None:
        """Atomically, 0600: the inventory names keys, known_hosts decides whom we trust."""
        self._private_folder(self.folder)
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.unlink(missing_ok=True)
        with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
            handle.write(text)
        temporary.replace(path)

    def _private_folder(self, folder: Path) -> None:
        """The console's folder and what is in it: 0700, it names keys and holds secrets."""
        for each in (self.folder, folder):
            each.mkdir(mode=0o700, parents=True, exist_ok=True)

    async def facts(self, name: str) -> dict[str, Any]:
        """The host's facts (one round trip), as `fossp facts --json` gives them."""
        from fossp.hosts.facts import gather_facts

        async def action(connector: Any, host: HostSpec, report: Any) -> Any:
            return await gather_facts(connector)

        facts = await self._one(name, action)
        data: dict[str, Any] = facts.model_dump(mode="json", exclude={"files", "state_json", "upgrade_json"})
        return data

    async def platform(self, name: str) -> dict[str, Any]:
        """`fossp platform check --target` for the host."""
        from fossp.catalog import load_catalog
        from fossp.cli.platform_cmds import remote_reports

        self.host(name)
        reports = await asyncio.to_thread(remote_reports, load_catalog().platform, [name], self.inventory_path, False)
        return reports[0]

    async def health(self, name: str) -> dict[str, Any]:
        """`fossp health` of the host: its agent read over SNMPv3, no SSH."""
        from fossp.catalog import load_catalog
        from fossp.platform.monitor import reach, read

        host = self.host(name)
        return await read(host, reach(load_catalog().role("platform"), {}, host), HEALTH_TIMEOUT)

    async def status(self, name: str) -> dict[str, Any]:
        """`fossp status` of the host: each role's live state, drift and probes."""
        from fossp.catalog.loader import load_catalog
        from fossp.engine.jobs import status_action, status_data

        host = self.host(name)
        action, _ = status_action(load_catalog(), [host], probe=True)
        return {"host": name, **status_data(await self._one(name, action))}

    async def fleet_status(self) -> list[dict[str, Any]]:
        """Every host's roles with their state and drift, read at once (no probes: a host's
        page runs them), or why the host could not be read; one slow host holds up no other."""
        from fossp.catalog.loader import load_catalog
        from fossp.engine.fleet import run_fleet
        from fossp.engine.jobs import status_action, status_data

        specs = list(self.hosts().values())
        if not specs:
            return []
        action, _ = status_action(load_catalog(), specs, probe=False)
        return [
            {"host": r.host, "error": None, **status_data(r.value)}
            if r.ok
            else {"host": r.host, "error": r.error or f"{r.host}: failed", "fossp": {}, "roles": []}
            for r in await run_fleet(specs, action)
        ]

    async def _one(self, name: str, action: Any) -> Any:
        from fossp.engine.fleet import run_fleet

        result = (await run_fleet([self.host(name)], action))[0]
        if not result.ok:
            raise HostError(result.error or f"{name}: failed")
        return result.value

    # runs

    def targets(self, names: list[str]) -> list[HostSpec]:
        if not names:
            raise Invalid("hosts", "choose at least one host")
        return [self.host(name) for name in dict.fromkeys(names)]

    def plan_job(self, hosts: list[str], profile: str | None, roles: list[str]) -> Any:
        """A plan run's work, checked now: bad roles or settings are refused before it starts."""
        from fossp.engine.jobs import plan_action

        specs = self.targets(hosts)
        catalog, work, notes = self._work(specs, profile, roles)

        async def job(progress: Progress) -> tuple[bool, dict[str, Any]]:
            _tell(progress, notes)
            results = await _fleet(specs, plan_action(catalog, work), progress)
            ok, data = _outcome(results, lambda plan: {"plan": plan.summary()})
            planned = {r.host: r.value for r in results if r.ok}
            return await self._registered(ok, data, catalog, specs, work, planned, dry_run=True)

        return job

    def deploy_job(self, hosts: list[str], profile: str | None, roles: list[str]) -> Any:
        from fossp.engine.jobs import cluster_run, deploy_action, outcome_data

        specs = self.targets(hosts)
        catalog, work, notes = self._work(specs, profile, roles)
        cluster = cluster_run(catalog, work)

        async def job(progress: Progress) -> tuple[bool, dict[str, Any]]:
            _tell(progress, notes)
            ended = cluster.give_up if cluster is not None else None
            results = await _fleet(specs, deploy_action(catalog, work, cluster), progress, ended)
            ok, data = _outcome(results, outcome_data)
            failed = any(s == "error" for r in results if r.ok for s in r.value.states.values())
            done = {r.host: r.value.plan for r in results if r.ok and r.value.plan is not None}
            return await self._registered(ok and not failed, data, catalog, specs, work, done, dry_run=False)

        return job

    async def _registered(
        self,
        ok: bool,
        data: dict[str, Any],
        catalog: Catalog,
        specs: list[HostSpec],
        work: Any,
        plans: dict[str, Any],
        dry_run: bool,
    ) -> tuple[bool, dict[str, Any]]:
        """The run's result with its hosts' backup registrations (as `fossp deploy` makes
        them: a registered host registered again); one that failed fails the job."""
        from fossp.cli.backup_cmds import register_hosts, registering

        items = registering(catalog, specs, work, plans, dry_run)
        if not items:
            return ok, data
        registered = await register_hosts(items, self.host, dry_run, {})
        return ok and not any("error" in item for item in registered), {**data, "backup": registered}

    def decommission_job(self, hosts: list[str], roles: list[str]) -> Any:
        """Remove what FOSSP added for ``roles`` (all its roles if none), keeping their data."""
        from fossp.catalog.loader import load_catalog
        from fossp.engine.decommission import refuse_partial_clusters
        from fossp.engine.jobs import removal_action, removal_plan_action

        specs, catalog = self.targets(hosts), load_catalog()
        for ref in roles:
            catalog.role(ref)

        async def job(progress: Progress) -> tuple[bool, dict[str, Any]]:
            plans = await _fleet(specs, removal_plan_action(catalog, roles, None), progress)
            refuse_partial_clusters({r.host: r.value for r in plans if r.ok}, catalog)
            ready = {r.host: r.value for r in plans if r.ok and r.value.roles}
            removing, order = removal_action(catalog, roles, None, ready)
            done = await _fleet([h for h in specs if h.name in ready], removing, progress, order.give_up)
            unplanned = [r for r in plans if not r.ok or r.host not in ready]
            return _outcome([*unplanned, *done], lambda undone: undone.summary())

        return job

    def _work(self, specs: list[HostSpec], profile: str | None, roles: list[str]) -> tuple[Catalog, Any, list[str]]:
        from fossp.cli.backup_cmds import director_on, resolve_backup_directors
        from fossp.engine.jobs import choose, host_work
        from fossp.platform.directory import resolve_directories

        if profile is None and not roles:
            raise Invalid("profile", "choose a profile or name roles")
        catalog = self.catalog()
        path = None
        if profile is not None:
            self.load_profile(profile)
            path = self.profile_path(profile)
        notes: list[str] = []
        chosen, placements = choose(catalog, roles, path, {}, include_preview=False, note=notes.append)
        work = host_work(catalog, specs, chosen, placements, f"profile {profile}")
        resolve_directories(catalog, work, self.host)  # a platform's directory host: of this inventory
        resolve_backup_directors(catalog, work, lambda name: director_on(self.host(name)))  # ... and its director
        return catalog, work, notes


def _checked(role: Role, name: str, value: Any) -> Any:
    """A form field's value, refused naming the field as the form labels it (``kea.subnet``)."""
    setting = role.setting(name)
    if setting is None:
        raise Invalid(f"{role.name}.{name}", f"{role.name} has no such setting")
    if not setting.secret:  # a secret (or its reference) is checked when it is kept
        try:
            setting.check(value)
        except ValueError as error:
            raise Invalid(f"{role.name}.{name}", str(error)) from None
    return value


def _secret(role: Role, name: str) -> bool:
    setting = role.setting(name)
    return setting is not None and setting.secret


def _tell(progress: Progress, notes: list[str]) -> None:
    for note in notes:
        progress("fossp", note)


async def _fleet(specs: list[HostSpec], action: Any, progress: Progress, ended: Any = None) -> list[HostResult]:
    from fossp.engine.fleet import run_fleet

    return await run_fleet(specs, action, progress, ended=ended)


def _outcome(results: list[HostResult], describe: Any) -> tuple[bool, dict[str, Any]]:
    """Whether every host succeeded, and each host's result as JSON."""
    hosts = [
        {
            "host": r.host,
            "ok": r.ok,
            "error": r.error,
            "seconds": round(r.seconds, 2),
            **(describe(r.value) if r.ok else describe(r.detail) if r.detail is not None else {}),
        }
        for r in results
    ]
    return all(r.ok for r in results), {"hosts": hosts}
