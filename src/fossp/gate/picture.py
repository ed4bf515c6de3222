"""The stage gate process picture (the seed's TODO), drawn as SVG from the phase data.

Because it is generated from ``process.yaml``, the picture never disagrees with the
process the software enforces. Phases are boxes coloured by the catalog status they give,
each preceded by its gate (a diamond); optional counts show how many applications sit in
each phase; ``current`` marks an application's phase and ``open_gate`` the gate it faces,
in orange with a caption, so the mark does not depend on colour alone. The picture keeps
its natural size (13 px names): pages scroll it sideways on a narrow screen.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from xml.sax.saxutils import escape

from fossp.catalog.schema import CatalogStatus
from fossp.gate.process import Process

PER_ROW = 6
SLOT, BOX_W, BOX_H, DIAMOND = 240, 162, 66, 18
TOP, ROW_GAP, LEFT = 80, 150, 30
MARK = "#c2410c"
FILL = {
    CatalogStatus.PREVIEW: "#dbe9f8",
    CatalogStatus.LAUNCHED: "#d5f0d8",
    CatalogStatus.RETIRED: "#e4e4e4",
}
STYLE = (
    "text{font-family:'DejaVu Sans',Arial,sans-serif;fill:#1d2733}"
    ".title{font-size:18px;font-weight:bold}.name{font-size:13px;font-weight:bold}"
    ".small{font-size:11px;fill:#4a5563}.gate{font-size:10px;font-weight:bold;fill:#fff}"
    f".mark{{font-size:12px;font-weight:bold;fill:{MARK}}}"
    ".arrow{stroke:#3c4b5c;stroke-width:2;fill:none;marker-end:url(#head)}"
)


def _origin(index: int) -> tuple[int, int]:
    return LEFT + (index % PER_ROW) * SLOT, TOP + (index // PER_ROW) * ROW_GAP


def _caption(x: int, y: int, words: str) -> str:
    return f'<text class="mark" x="{x}" y="{y - 8}">{words}</text>'


def _phase(index: int, name: str, status: CatalogStatus, count: int | None, current: bool, gate_open: bool) -> str:
    x, y = _origin(index)
    cx, cy = x + DIAMOND, y + BOX_H // 2
    diamond = f"{cx},{cy - DIAMOND} {cx + DIAMOND},{cy} {cx},{cy + DIAMOND} {cx - DIAMOND},{cy}"
    box_x = x + 2 * DIAMOND + 20
    stroke = f' stroke="{MARK}" stroke-width="4"' if current else ' stroke="#6b7a8c"'
    marks = (_caption(box_x, y, "▼ current phase") if current else "") + (
        _caption(x - 4, y, "▼ open gate") if gate_open else ""
    )
    lines = textwrap.wrap(name, 19)
    text = "".join(
        f'<text class="name" x="{box_x + BOX_W // 2}" y="{y + 24 + 15 * n}" text-anchor="middle">{escape(line)}</text>'
        for n, line in enumerate(lines[:2])
    )
    badge = (
        f'<text class="small" x="{box_x + BOX_W - 6}" y="{y + BOX_H - 6}" text-anchor="end">{count} here</text>'
        if count
        else ""
    )
    return (
        f'<g id="phase-{index + 1}"><title>Gate {index + 1}, then {escape(name)}</title>{marks}'
        f'<polygon points="{diamond}" fill="{MARK if gate_open else "#2f5d8a"}"/>'
        f'<text class="gate" x="{cx}" y="{cy + 4}" text-anchor="middle">G{index + 1}</text>'
        f'<line class="arrow" x1="{cx + DIAMOND}" y1="{cy}" x2="{box_x - 1}" y2="{cy}"/>'
        f'<rect x="{box_x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="8" '
        f'fill="{FILL[status]}"{stroke}/>{text}'
        f'<text class="small" x="{box_x + 6}" y="{y + BOX_H - 6}">{status.value}</text>{badge}</g>'
    )


def _link(index: int) -> str:
    """The arrow from phase ``index`` to the gate of the next phase (wrapping rows)."""
    x, y = _origin(index)
    nx, ny = _origin(index + 1)
    start_x, mid_y = x + 2 * DIAMOND + 20 + BOX_W, y + BOX_H // 2
    if ny == y:
        return f'<line class="arrow" x1="{start_x}" y1="{mid_y}" x2="{nx - 1}" y2="{mid_y}"/>'
    drop = y + BOX_H + 30
    return f'<path class="arrow" d="M{start_x} {mid_y} h12 V{drop} H{nx - 14} V{ny + BOX_H // 2} h12"/>'


def _legend(y: int) -> str:
    items = [
        ("G", "#2f5d8a", "gate: the review lead decides after the participants' reviews"),
        ("go", "#1f7a35", "all required deliverables, exit criteria met, no open action"),
        ("recycle", "#9a6700", "rework: the same gate again, in a new round"),
        ("hold", "#6b7a8c", "paused until the review lead resumes"),
        ("no-go", "#b42318", "stopped at this gate"),
    ]
    rows = "".join(
        f'<text x="{LEFT}" y="{y + 20 * n}" style="font-size:12px;font-weight:bold;fill:{colour}">'
        f'{word}</text><text class="small" x="{LEFT + 70}" y="{y + 20 * n}">'
        f"{escape(meaning)}</text>"
        for n, (word, colour, meaning) in enumerate(items)
    )
    swatches = "".join(
        f'<rect x="{LEFT + 560 + 130 * n}" y="{y - 12}" width="16" height="16" rx="3" '
        f'fill="{FILL[status]}" stroke="#6b7a8c"/>'
        f'<text class="small" x="{LEFT + 582 + 130 * n}" y="{y + 1}">{status.value}</text>'
        for n, status in enumerate(CatalogStatus)
    )
    note = (
        f'<text class="small" x="{LEFT + 560}" y="{y + 24}">'
        "catalog status a role has while its application is in the phase</text>"
    )
    return rows + swatches + note


def process_svg(
    process: Process,
    counts: Mapping[str, int] | None = None,
    current: str | None = None,
    open_gate: str | None = None,
) -> str:
    """The whole process as one standalone SVG document (``current``, ``open_gate``: phase keys)."""
    counts = counts or {}
    phases = process.phases
    rows = (len(phases) + PER_ROW - 1) // PER_ROW
    width = LEFT * 2 + PER_ROW * SLOT
    legend_y = TOP + rows * ROW_GAP + 10
    height = legend_y + 5 * 20 + 10
    body = "".join(
        _phase(n, p.name, p.catalog_status, counts.get(p.key), p.key == current, p.key == open_gate)
        for n, p in enumerate(phases)
    ) + "".join(_link(n) for n in range(len(phases) - 1))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="process-title">'
        '<defs><marker id="head" markerWidth="10" markerHeight="10" refX="9" refY="5" '
        'orient="auto" markerUnits="userSpaceOnUse">'
        '<path d="M0,0 L10,5 L0,10 z" fill="#3c4b5c"/></marker></defs>'
        f"<style>{STYLE}</style>"
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>'
        f'<text id="process-title" class="title" x="{LEFT}" y="36">'
        "Stage gate review process of the Server Working Group</text>"
        f"{body}{_legend(legend_y)}</svg>"
    )
