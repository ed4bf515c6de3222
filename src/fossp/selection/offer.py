"""What may be offered and deployed, and in which order: the catalog's lifecycle, the
families' packages and the roles' requirements. Kept apart from the text matching of
``recommend`` so that a deploy loads no vocabulary or fuzzy matcher."""

from __future__ import annotations

from fossp.catalog.loader import Catalog
from fossp.catalog.schema import CatalogStatus, Family, Relation, Role


def retired_reason(role: Role) -> str | None:
    """Why a role is retired (its upstream is dead, or the catalog retired it), or None."""
    if role.upstream.status == "dead":
        return f"upstream is dead ({role.upstream.reason}); consider {role.upstream.replacement}"
    if role.lifecycle.status is CatalogStatus.RETIRED:
        return f"catalog status is {role.lifecycle.status.value}"
    return None


def why_not_offered(
    role: Role, family: Family | None, include_preview: bool, include_retired: bool = False
) -> str | None:
    """Why a role cannot be offered, or None when it can (``include_retired``: a retired
    role, or one whose upstream is dead, is deployed anyway when asked for by name)."""
    retired = retired_reason(role)
    if retired and not include_retired:
        return f"{retired} (--include-retired deploys it anyway)"
    status = role.lifecycle.status
    if status is CatalogStatus.PREVIEW and not include_preview:
        return f"catalog status is {status.value} (use --include-preview for preview roles)"
    if family is not None and not role.available_on(family):
        return f"no {family.value} package: {role.packages[family].note}"
    if family is None and not include_preview and not any(role.available_on(f) for f in Family):
        return "not packaged for any family (use --include-preview to see it): " + packaging_notes(role)
    return None


def packaging_notes(role: Role) -> str:
    return "; ".join(f"{f.value}: {p.note}" for f, p in role.packages.items() if not p.available)


def deploys_on(role: Role, family: Family | None) -> list[Family]:
    """The families (``family`` only, when given) FOSSP deploys the role on: it needs the
    role's recipe and the family's packages, as `fossp deploy` does."""
    from fossp.engine.recipe_files import has_recipe

    families = [family] if family is not None else list(Family)
    return [f for f in families if role.available_on(f)] if has_recipe(role.name) else []


def why_not_deployable(role: Role, family: Family | None) -> str | None:
    """Why FOSSP cannot deploy the role (on ``family``), or None when it can."""
    from fossp.engine.recipe_files import has_recipe

    if not has_recipe(role.name):
        return "FOSSP has no deploy recipe for it yet"
    if deploys_on(role, family):
        return None
    if family is not None:
        return f"no {family.value} package: {role.packages[family].note}"
    return "not packaged for any family: " + packaging_notes(role)


def requirements(catalog: Catalog, role_ids: list[str]) -> list[tuple[Role, Relation, str]]:
    """Every (required role, relation, requiring role ID), transitively, breadth first."""
    found: list[tuple[Role, Relation, str]] = []
    seen = set(role_ids)
    queue = list(role_ids)
    while queue:
        owner = queue.pop(0)
        for relation in catalog.roles[owner].requires:
            found.append((catalog.roles[relation.role], relation, owner))
            if relation.role not in seen:
                seen.add(relation.role)
                queue.append(relation.role)
    return found


def in_deploy_order(catalog: Catalog, role_ids: list[str]) -> list[str]:
    """The roles with each one's required roles before it (Bacula after the PostgreSQL
    holding its catalog), otherwise in the order given; a cycle is broken where it closes."""
    ordered: dict[str, None] = {}
    visiting: set[str] = set()

    def visit(role_id: str) -> None:
        if role_id in ordered or role_id in visiting:
            return
        visiting.add(role_id)
        for relation in catalog.roles[role_id].requires:
            if relation.role in role_ids:
                visit(relation.role)
        ordered[role_id] = None

    for role_id in role_ids:
        visit(role_id)
    return list(ordered)
