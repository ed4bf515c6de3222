"""The report as one self-contained HTML page (no outside script or style: it reads offline)."""

from __future__ import annotations

from typing import Any

from fossp.catalog.loader import DATA_DIR
from fossp.upgrade.report import Report


def render_html(run_id: str, reports: list[Report], errors: list[dict[str, Any]]) -> str:
    """Entries sorted errors first, then inhibitors, then by severity; every check's status below."""
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(DATA_DIR / "upgrade"), autoescape=True, undefined=jinja2.StrictUndefined
    )
    template = environment.get_template("report.html.j2")
    return template.render(run_id=run_id, reports=reports, errors=errors)
