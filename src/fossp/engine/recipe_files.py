"""Where recipes are and which roles have one, without the recipe models: `fossp roles
list` and `recommend` only ask whether a role deploys (fossp.engine.recipe's models cost
more start-up than the rest of a catalog command's catalog).
"""

from __future__ import annotations

import os
from pathlib import Path

from fossp.catalog.loader import DATA_DIR
from fossp.errors import BadInput

RECIPES_DIR = DATA_DIR / "recipes"
#: Recipes of site roles (``/etc/fossp/roles.d``), with their templates in ``templates/``.
SITE_RECIPES_DIR = Path("/etc/fossp/recipes.d")


def site_recipes_folder() -> Path:
    """Where site recipes live (``FOSSP_RECIPES_DIR`` names another folder)."""
    return Path(os.environ.get("FOSSP_RECIPES_DIR") or SITE_RECIPES_DIR)


def recipe_dirs() -> list[Path]:
    """Packaged recipes, then the site's."""
    site = site_recipes_folder()
    return [RECIPES_DIR, *([site] if site.is_dir() else [])]


def recipe_path(role_name: str) -> Path | None:
    """The role's recipe file; a site recipe may not shadow a packaged one."""
    found = [folder / f"{role_name}.yaml" for folder in recipe_dirs() if (folder / f"{role_name}.yaml").is_file()]
    if len(found) > 1:
        raise BadInput(
            f"{found[1]}: role {role_name!r} has a packaged recipe ({found[0]}); a site recipe cannot replace it"
        )
    return found[0] if found else None


def has_recipe(role_name: str) -> bool:
    """Whether FOSSP knows how to configure the role, not only install and start it."""
    return recipe_path(role_name) is not None


def deployable_roles() -> list[str]:
    """The names of the roles with a recipe (packaged and site)."""
    return sorted({path.stem for folder in recipe_dirs() for path in folder.glob("*.yaml")})
