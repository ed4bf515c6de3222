"""CLI test helpers."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import DATA_DIR

SITE_ROLE = "site-web"


@pytest.fixture
def site_roles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A site role ``site-web`` (nginx's role file under another name and ID) with no
    recipe; the subprocesses the test runs see it. Returns the site's recipe folder."""
    roles, recipes = tmp_path / "roles.d", tmp_path / "recipes.d"
    roles.mkdir()
    recipes.mkdir()
    role = yaml.safe_load((DATA_DIR / "roles" / "nginx.yaml").read_text())
    role.update(id="FOSSP-WDSZZ", code="ZZ", name=SITE_ROLE, preference=1)
    (roles / f"{SITE_ROLE}.yaml").write_text(yaml.safe_dump(role))
    monkeypatch.setenv("FOSSP_ROLES_DIR", str(roles))
    monkeypatch.setenv("FOSSP_RECIPES_DIR", str(recipes))
    return recipes
