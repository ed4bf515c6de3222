"""The process picture: the mark of an application's place is in words, not colour alone."""

from __future__ import annotations

from fossp.gate.picture import process_svg
from fossp.gate.process import load_process


def test_the_picture_marks_the_current_phase_and_the_open_gate_in_words() -> None:
    svg = process_svg(load_process(), current="concept", open_gate="planning")
    assert svg.count("▼ current phase") == 1 and svg.count("▼ open gate") == 1
    concept = svg.split('<g id="phase-2">')[1].split("</g>")[0]
    assert "▼ current phase" in concept and 'stroke-width="4"' in concept
    assert "▼ open gate" in svg.split('<g id="phase-3">')[1].split("</g>")[0]
    assert "▼" not in process_svg(load_process())
