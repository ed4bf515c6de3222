"""Recipes: what a role needs beyond packages and units, as validated data.

A recipe (``fossp/data/recipes/<role name>.yaml``) says, per OS family, which files FOSSP
writes from templates or edits with an Augeas lens, which setup steps run (initdb,
createdb, ...) and which values come from facts (``vars``, e.g. PostgreSQL's major
version from the installed package). Text fields may use ``{setting}`` and ``{var}``
placeholders; values are substituted as data, never as shell syntax.
"""

from __future__ import annotations

import posixpath
import re
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol, TypeVar

from pydantic import Field, StringConstraints, model_validator

from fossp.catalog.loader import load_catalog, parse_model, parse_yaml, read_yaml
from fossp.catalog.schema import (
    DERIVED_NAMES,
    DERIVED_PART_SUFFIXES,
    Family,
    Role,
    SettingName,
    Slug,
    Strict,
    UnitName,
    placeholders,
)
from fossp.engine.recipe_files import recipe_dirs, recipe_path
from fossp.errors import BadInput
from fossp.files import read_text
from fossp.secrets import private_mode

#: The templates folder of a recipe being delivered to the stage gate, searched after the installed ones.
_DELIVERED_TEMPLATES: ContextVar[tuple[Path, ...]] = ContextVar("delivered_templates", default=())


def template_dirs() -> list[Path]:
    return [*(folder / "templates" for folder in recipe_dirs()), *_DELIVERED_TEMPLATES.get()]


def template_path(name: str) -> Path | None:
    """The template file a recipe names (packaged first), or None."""
    return next((folder / name for folder in template_dirs() if (folder / name).is_file()), None)


class PackageVersionVar(Strict):
    """A value read from an installed package's version, e.g. ``15`` from ``15+248``."""

    package: str
    pattern: str = Field(description="regular expression; its first group is the value")

    def resolve(self, packages: dict[str, str]) -> str | None:
        version = packages.get(self.package)
        match = re.search(self.pattern, version) if version else None
        return match.group(1) if match else None


class TextVar(Strict):
    """A value built from settings and other text, e.g. a zone file's path from the zone."""

    text: str


class AugeasSet(Strict):
    """Set ``node`` (relative to the file) to ``value``; a value ``{*LIST}`` makes one
    numbered child per item of the list setting (a comma list in the lens's tree)."""

    node: str
    value: str
    before: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z][A-Za-z0-9_-]*$",
        description="keep the node ahead of the first node of this label (sshd takes the first value it "
        "reads: ahead of the Include of sshd_config.d, so a drop-in cannot override it)",
    )


class AugeasEntry(Strict):
    """Ensure a numbered entry (pg_hba line, hosts line) with these children exists."""

    entry: dict[str, str]


class AugeasEdit(Strict):
    lens: str = Field(pattern=r"^[A-Z][A-Za-z0-9_]*\.lns$")
    set: list[AugeasSet] = Field(default_factory=list)
    ensure: list[AugeasEntry] = Field(default_factory=list)


class Substitution(Strict):
    """Replace what ``pattern`` (a regular expression, multi-line) first matches by ``text``
    (placeholders as elsewhere, so a literal brace is written ``{{`` or ``}}``)."""

    pattern: str
    text: str

    @model_validator(mode="after")
    def _compiles(self) -> Substitution:
        re.compile(self.pattern)
        return self


class FileSpec(Strict):
    """A file FOSSP owns (template), edits (augeas; or substitutions then an ensured line,
    where no lens exists), creates as a folder (dir) or removes."""

    path: str
    template: str | None = None
    augeas: AugeasEdit | None = None
    line: str | None = Field(default=None, description="ensure this line is in the file")
    substitute: list[Substitution] = Field(default_factory=list)
    dir: bool = False
    absent: bool = False
    mode: Annotated[str, StringConstraints(pattern=r"^0?[0-7]{3}$")] = "644"
    owner: str | None = Field(
        default=None,
        pattern=r"^[a-z_][a-z0-9_-]*:[a-z_][a-z0-9_-]*$",
        description="user:group; edits keep the file's own",
    )
    reload: bool = Field(default=True, description="restart the role's units when it changes")
    restart: list[UnitName] | None = Field(default=None, description="only these of the role's units restart")
    why: str | None = Field(default=None, description="the reason shown in plans")
    only_if: SettingName | None = Field(default=None, description="only when this setting is true or non-empty")
    unless: SettingName | None = Field(default=None, description="only when this setting is false or empty")
    parts: list[Slug] | None = Field(default=None, description="only on hosts of these parts (multi-host roles)")
    left_to: list[Slug] = Field(
        default_factory=list,
        description="roles (by name) that write this file whole themselves: on a host where one is deployed, "
        "this role leaves the file to it (one owner per file)",
    )

    @model_validator(mode="after")
    def _one_kind(self) -> FileSpec:
        text_edit = self.line is not None or bool(self.substitute)
        kinds = [self.template is not None, self.augeas is not None, text_edit, self.dir, self.absent]
        if sum(kinds) != 1:
            raise ValueError(f"{self.path}: give exactly one of template, augeas, line/substitute, dir, absent")
        if self.template and template_path(self.template) is None:
            folders = ", ".join(str(folder) for folder in template_dirs())
            raise ValueError(f"{self.path}: template {self.template} not found in {folders}")
        return self


class Step(Strict):
    """A setup command. ``creates`` makes it idempotent by a file; else the ledger does."""

    name: Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]+$")]
    argv: list[str] = Field(min_length=1)
    when: Literal["preinstall", "installed", "configured", "running", "cluster"] = Field(
        default="installed",
        description="before the packages are installed (an answer their install scripts read), "
        "after the packages are installed, after the files are written, after the units start, "
        "or (multi-host roles) once, on the first member of its part, after every member is running",
    )
    parts: list[Slug] | None = Field(default=None, description="only on hosts of these parts (multi-host roles)")
    creates: str | None = None
    stdin: str | None = Field(default=None, description="data for the command's standard input")
    retry: float = Field(default=0, ge=0, le=300, description="seconds to keep retrying (a service still starting)")
    undo: list[str] | None = Field(
        default=None, min_length=1, description="the command decommission runs to take the step back"
    )
    undo_when: Literal["always", "purge"] = Field(
        default="always", description="purge: the undo deletes data, so only `decommission --purge` runs it"
    )
    only_if: SettingName | None = Field(default=None, description="run only when this setting is true or non-empty")
    unless: SettingName | None = Field(
        default=None, description="run only when this setting is false or empty (the inverse of only_if)"
    )
    description: str

    @model_validator(mode="after")
    def _undo_given(self) -> Step:
        if self.undo is None and self.undo_when != "always":
            raise ValueError(f"step {self.name}: undo_when needs an undo")
        if self.when == "cluster" and self.parts is not None and len(self.parts) != 1:
            raise ValueError(f"step {self.name}: a cluster step runs on the first member of one part")
        return self


class _Placed(Protocol):
    @property
    def parts(self) -> list[str] | None: ...


P = TypeVar("P", bound=_Placed)


def not_needed(only_if: str | None, unless: str | None, settings: dict[str, Any]) -> str | None:
    """Why a conditional recipe item is left out here (``only_if`` off, ``unless`` on), or None."""
    if only_if and not settings.get(only_if):
        return f"not needed: {only_if} is off"
    if unless and settings.get(unless):
        return f"not needed: {unless} is on"
    return None


def for_part(items: list[P], part: str | None) -> list[P]:
    """The recipe items that apply on a host of ``part`` (None: not a member of a multi-host role)."""
    return [item for item in items if item.parts is None or part in item.parts]


class UnitAction(Strict):
    """A unit of the distribution the role must change before its own units start (Debian
    runs smbd where a Samba DC needs samba-ad-dc, and ships that one masked); decommission
    applies the inverse."""

    unit: UnitName
    action: Literal["mask", "unmask", "enable", "disable", "start", "stop"]
    parts: list[Slug] | None = Field(default=None, description="only on hosts of these parts (multi-host roles)")


class Dump(Strict):
    """A consistent copy made with the data's own tool (pg_dumpall, mariadb-dump), printed
    on standard output; ``restore`` reads it back on standard input."""

    argv: list[str] = Field(min_length=1)
    file: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
    restore: list[str] = Field(min_length=1)


class Carry(Strict):
    """Files kept data needs to be used again that live elsewhere and go with the packages
    (Debian keeps a PostgreSQL cluster's configuration in /etc, and the purge deletes it):
    decommission copies them ``into`` the kept folder, where the next install adopts them."""

    files: list[str] = Field(min_length=1)
    into: str


class DataPath(Strict):
    """A folder of the role's data (databases, logs, spools): kept by decommission unless
    purged, and on a BTRFS root a subvolume of its own, so a system rollback keeps it."""

    path: Annotated[str, StringConstraints(pattern=r"^[/{][A-Za-z0-9._/{}-]+$")] = Field(
        description="absolute once filled; may hold {setting} placeholders (a data root the administrator chooses)"
    )
    why: str
    dump: Dump | None = None
    carry: Carry | None = None
    #: The folder's mode and owner as the package ships it: dpkg leaves a folder that
    #: exists alone, so a subvolume made before the install must already have them.
    #: (An owner the package itself creates cannot be named: its scripts set that one.)
    mode: Annotated[str, StringConstraints(pattern=r"^[0-7]{3,4}$")] | None = None
    owner: Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_-]*:[a-z_][a-z0-9_-]*$")] | None = None


def filled_data(data: list[DataPath], values: dict[str, Any]) -> tuple[list[DataPath], list[DataPath]]:
    """(the data folders with their placeholders filled, those whose path is not known yet:
    it names a value only facts tell, such as a package's version)."""
    known, unknown = [], []
    for item in data:
        path = fill(item.path, values)
        if path is None:
            unknown.append(item)
        elif not path.startswith("/"):
            raise BadInput(f"data folder {item.path} is {path!r}, not an absolute path")
        else:
            known.append(item.model_copy(update={"path": posixpath.normpath(path)}))
    return known, unknown


#: systemd writes it in every container it runs in (systemd-detect-virt --container).
CONTAINER_MARK = "/run/systemd/container"


class UnitCondition(Strict):
    """When one of the role's own units runs: only with a setting on (SSSD once a directory
    is given), or not in a container, where what it serves belongs to the container's host
    (the clock, multipath block devices). Elsewhere the plan says why it is left alone."""

    unit: UnitName
    only_if: SettingName | None = Field(default=None, description="run only when this setting is true or non-empty")
    not_in_container: str | None = Field(default=None, description="why the unit cannot run in a container")


class FamilyRecipe(Strict):
    vars: dict[str, PackageVersionVar | TextVar] = Field(default_factory=dict)
    data: list[DataPath] = Field(default_factory=list)
    files: list[FileSpec] = Field(default_factory=list)
    steps: list[Step] = Field(default_factory=list)
    units: list[UnitAction] = Field(default_factory=list)
    conditions: list[UnitCondition] = Field(default_factory=list)

    def held(self, unit: str, settings: dict[str, Any], in_container: bool) -> str | None:
        """Why the role's ``unit`` is not started here, or None when it runs."""
        for condition in (c for c in self.conditions if c.unit == unit):
            if condition.not_in_container and in_container:
                return f"cannot run in a container: {condition.not_in_container}"
            skipped = not_needed(condition.only_if, None, settings)
            if skipped:
                return skipped
        return None


class Recipe(Strict):
    role: str
    families: dict[Family, FamilyRecipe]

    def for_family(self, family: Family) -> FamilyRecipe:
        return self.families.get(family, FamilyRecipe())

    def edits_with_augeas(self) -> bool:
        """Whether some family's files are edited through Augeas (python-augeas, here)."""
        return any(spec.augeas is not None for family in self.families.values() for spec in family.files)


@cache
def load_recipe(role_name: str) -> Recipe:
    """The role's recipe, or an empty one (packages, units, firewall only), checked
    against the role: no secret where it could leak, no setting left unused."""
    path = recipe_path(role_name)
    if path is None:
        return Recipe(role=role_name, families={})
    recipe = parse_model(Recipe, read_yaml(path), str(path))
    if recipe.role != role_name:
        raise BadInput(f"{path}: field 'role': {recipe.role!r} does not match the file name")
    role = next((r for r in load_catalog().roles.values() if r.name == role_name), None)
    if role is not None:
        check_secrets(recipe, {s.name for s in role.settings if s.secret}, str(path))
        check_consumed(recipe, role, str(path))
        check_units(recipe, role, str(path))
    return recipe


def check_delivered(text: str, source: str, role: Role, templates: Path) -> tuple[Recipe, list[str]]:
    """A new role's recipe as delivered to the stage gate, checked as :func:`load_recipe`
    checks an installed one, its own templates in ``templates``; with the names of the
    templates it brings there (the others it names are installed already)."""
    token = _DELIVERED_TEMPLATES.set((templates,))
    _template_names.cache_clear()
    try:
        recipe = parse_model(Recipe, parse_yaml(text, source), source)
        if recipe.role != role.name:
            raise BadInput(
                f"{source}: field 'role': {recipe.role!r} is not the name of the proposed role ({role.name})"
            )
        check_secrets(recipe, {s.name for s in role.settings if s.secret}, source)
        check_consumed(recipe, role, source)
        check_units(recipe, role, source)
    finally:
        _DELIVERED_TEMPLATES.reset(token)
        _template_names.cache_clear()
    names = sorted({spec.template for family in recipe.families.values() for spec in family.files if spec.template})
    for name in names:
        if name.startswith("/") or ".." in name.split("/"):
            raise BadInput(f"{source}: template {name} is outside the templates folder beside the recipe")
        if template_path(name) is not None and (templates / name).is_file():
            raise BadInput(f"{source}: template {name} is installed already; name yours under {role.name}/")
    return recipe, [name for name in names if template_path(name) is None]


def check_units(recipe: Recipe, role: Role, where: str) -> None:
    """Refuse a condition or a file's restart naming a unit the role does not have (any
    family's, any part's): a misspelt unit would silently be started, or never restarted."""
    parts = role.cluster.parts if role.cluster else []
    own = {unit for table in (role.units, *(p.units for p in parts)) for units in table.values() for unit in units}
    for family, family_recipe in recipe.families.items():
        named = [("conditions", c.unit) for c in family_recipe.conditions]
        named += [(f"files ({spec.path})", unit) for spec in family_recipe.files for unit in spec.restart or []]
        for field, unit in named:
            if unit not in own:
                raise BadInput(
                    f"{where}: the {family.value} recipe's {field} name {unit}, which is not a unit of the role "
                    f"({', '.join(sorted(own)) or 'none'})"
                )


def check_consumed(recipe: Recipe, role: Role, where: str) -> None:
    """Refuse a setting that a family's recipe accepts but never uses: a setting that is
    validated and then ignored is a silent no-op. A setting that applies to some families
    only says so (``families``), and is refused elsewhere when it is given."""
    unit_names = {family: set().union(*(placeholders(u) for u in units)) for family, units in role.units.items()}
    parts = [p.name for p in role.cluster.parts] if role.cluster else []
    derived = {*DERIVED_NAMES, *(f"{p}_{s}" for p in parts for s in DERIVED_PART_SUFFIXES)}
    for family, packages in role.packages.items():
        if not packages.available:
            continue
        family_recipe = recipe.for_family(family)
        used = consumed_names(family_recipe) | unit_names.get(family, set())
        unknown = sorted(
            text_names(family_recipe) - {s.name for s in role.settings} - set(family_recipe.vars) - derived
        )
        if unknown:
            raise BadInput(
                f"{where}: the {family.value} recipe reads {{{unknown[0]}}}, which is no setting or variable "
                "of the role (a literal brace is written {{ or }})"
            )
        for setting in role.settings:
            applies = setting.families is None or family in setting.families
            if applies and setting.name not in used:
                raise BadInput(
                    f"{where}: setting '{setting.name}' of {role.id} is never used by the {family.value} recipe; "
                    f"use it, or limit the setting with 'families' in the role file"
                )


def consumed_names(recipe: FamilyRecipe) -> set[str]:
    """The setting and variable names a family recipe reads anywhere (texts, stdin,
    templates); a variable counts only where it is read itself."""
    names = text_names(recipe)
    conditions = [(step.only_if, step.unless) for step in recipe.steps] + [(f.only_if, f.unless) for f in recipe.files]
    conditions += [(c.only_if, None) for c in recipe.conditions]
    names |= {name for pair in conditions for name in pair if name}
    names |= set().union(*(_template_names(spec.template) for spec in recipe.files if spec.template))
    for name, var in reversed(list(recipe.vars.items())):
        if name in names and isinstance(var, TextVar):
            names |= placeholders(var.text)
    return names


def text_names(recipe: FamilyRecipe) -> set[str]:
    """The ``{name}`` placeholders of a family recipe's texts (templates aside)."""
    texts: list[str] = [var.text for var in recipe.vars.values() if isinstance(var, TextVar)]
    for step in recipe.steps:
        texts += [*step.argv, *(step.undo or []), step.stdin or "", step.creates or ""]
    for spec in recipe.files:
        texts += [spec.path, spec.line or "", *(s.text for s in spec.substitute)]
        if spec.augeas is not None:
            texts += [e.value for e in spec.augeas.set] + [v for e in spec.augeas.ensure for v in e.entry.values()]
    for data in recipe.data:
        texts += [data.path, *(data.dump.argv + data.dump.restore if data.dump else [])]
        texts += [*data.carry.files, data.carry.into] if data.carry else []
    texts += [action.unit for action in recipe.units]
    return set().union(*(placeholders(text) for text in texts))


def check_secrets(recipe: Recipe, secrets: set[str], where: str) -> None:
    """Refuse a recipe that would let a secret setting leak on the host: it may reach a
    command only on stdin (arguments are visible to every user in ps) and a file only
    through a template written with a private mode (0600, 0640). Variables built from a
    secret are secret too."""
    for family, family_recipe in recipe.families.items():
        tainted = set(secrets)
        for name, var in family_recipe.vars.items():
            if isinstance(var, TextVar) and placeholders(var.text) & tainted:
                tainted.add(name)
        if not tainted:
            continue
        refusals = [
            (f"families.{family.value}.{field}", used, why)
            for field, texts, why in _secret_exposures(family_recipe)
            for used in sorted(tainted & set().union(*(placeholders(t) for t in texts)))
        ]
        refusals += [
            (f"families.{family.value}.files.{index}.template", used, f"it is written with mode {spec.mode}")
            for index, spec in enumerate(family_recipe.files)
            if spec.template and not private_mode(spec.mode)
            for used in sorted(tainted & _template_names(spec.template))
        ]
        if refusals:
            field, used, why = refusals[0]
            raise BadInput(
                f"{where}: field '{field}': secret setting '{used}' must not be used here ({why}); "
                "pass it on a step's stdin or in a template of mode 0600 or 0640"
            )


def _secret_exposures(recipe: FamilyRecipe) -> list[tuple[str, list[str], str]]:
    """(field, its texts, why a secret there leaks) for every text outside stdin and templates."""
    found = [
        (f"steps.{i}.argv", [*step.argv, *(step.undo or [])], "command arguments are visible to every user")
        for i, step in enumerate(recipe.steps)
    ]
    found += [(f"steps.{i}.creates", [s.creates], "paths are shown") for i, s in enumerate(recipe.steps) if s.creates]
    for i, spec in enumerate(recipe.files):
        found.append((f"files.{i}.path", [spec.path], "paths are shown"))
        edits = [spec.line or "", *(s.text for s in spec.substitute)]
        if spec.augeas is not None:
            edits += [e.value for e in spec.augeas.set] + [v for e in spec.augeas.ensure for v in e.entry.values()]
        found.append((f"files.{i}", edits, "an edited file keeps its own mode"))
    for i, data in enumerate(recipe.data):
        dump = [*data.dump.argv, *data.dump.restore] if data.dump else []
        found.append((f"data.{i}", [data.path, *dump], "command arguments and paths are visible"))
    return found


@cache
def _template_names(template: str) -> set[str]:
    """The variables a template reads."""
    from jinja2 import Environment, nodes

    path = template_path(template)
    if path is None:
        raise BadInput(f"template {template} not found in {', '.join(str(folder) for folder in template_dirs())}")
    source = read_text(path)
    return {node.name for node in Environment().parse(source).find_all(nodes.Name) if node.ctx == "load"}


_SPREAD = re.compile(r"\{\*([a-z][a-z0-9_]*)\}")


def spread(args: list[str], settings: dict[str, Any]) -> list[str]:
    """Command arguments with each one holding ``{*LIST}`` repeated once per item of that
    list (``{*server_addresses}:{brick}`` gives one brick argument per member); an item is
    data, never a placeholder. A list not known yet leaves the argument as it is."""
    spread_args: list[str] = []
    for arg in args:
        found = _SPREAD.search(arg)
        items = settings.get(found.group(1)) if found else None
        if found is None or not isinstance(items, list):
            spread_args.append(arg)
            continue
        for item in items:
            literal = str(item).replace("{", "{{").replace("}", "}}")
            spread_args.append(arg[: found.start()] + literal + arg[found.end() :])
    return spread_args


def fill(text: str, values: dict[str, Any]) -> str | None:
    """``text`` with placeholders filled, or None when a value is not known yet."""
    if not placeholders(text) <= set(values):
        return None
    plain = {k: _plain(v) for k, v in values.items()}
    return text.format_map({**plain, **{f"*{k}": v for k, v in plain.items()}})  # a {*x} not spread: as {x}


def _plain(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def fact_paths(recipes: list[tuple[Recipe, dict[str, Any]]]) -> list[str]:
    """Every path a plan may read, for the facts batch: settings are filled in, values only
    facts can tell (a package's version) become ``*``; all families, as the family is a fact too."""
    paths: set[str] = set()
    for recipe, settings in recipes:
        for family_recipe in recipe.families.values():
            values = _Globbing(resolve_vars(family_recipe, settings, None))
            texts = [spec.path for spec in family_recipe.files] + [data.path for data in family_recipe.data]
            texts += [step.creates for step in family_recipe.steps if step.creates]
            texts += [CONTAINER_MARK] if any(c.not_in_container for c in family_recipe.conditions) else []
            paths.update(text.format_map(values) for text in texts)
    return sorted(paths)


def fact_units(recipes: list[tuple[Recipe, dict[str, Any]]]) -> list[str]:
    """The distribution units the recipes change (all families), for the facts batch."""
    return sorted(
        {
            fill(action.unit, resolve_vars(family_recipe, settings, None)) or action.unit
            for recipe, settings in recipes
            for family_recipe in recipe.families.values()
            for action in family_recipe.units
        }
    )


class _Globbing(dict[str, str]):
    """Placeholders not known before facts match anything."""

    def __missing__(self, key: str) -> str:
        return "*"


def resolve_vars(recipe: FamilyRecipe, settings: dict[str, Any], packages: dict[str, str] | None) -> dict[str, str]:
    """Settings plus the recipe's variables that can be known, as text, in declaration order.

    With ``packages`` None (before facts), a package-version variable reads as ``*``.
    """
    values = {name: _plain(value) for name, value in settings.items()}
    for name, var in recipe.vars.items():
        if isinstance(var, PackageVersionVar):
            found = "*" if packages is None else var.resolve(packages)
        else:
            found = fill(var.text, values)
        if found is not None:
            values[name] = found
    return values
