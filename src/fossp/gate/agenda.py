"""The meeting agenda of a Server Working Group gate review, as Markdown and iCalendar.

Seed: the review lead makes arrangements for the meeting and communicates the schedule
to the participants; the agenda lists each open gate with what still blocks a go, so
everyone arrives having read the pertinent documentation.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

TITLE = "Server Working Group gate review"


def _item(app: dict[str, Any]) -> list[str]:
    gate = app["gate"]
    lines = [
        f"## {app['name']} ({', '.join(app['roles'])}): {gate['name']}, round {gate['round']}",
        "",
        f"- Phase now: {app['phase_name']}; state: {app['state']}; review lead: {app['lead']}",
        f"- Reviews so far: {len(gate['reviews'])}; required from: {', '.join(gate['required_reviews'])}",
    ]
    blockers = gate["go_blockers"] or ["nothing: ready for a go"]
    lines += ["- Blocking a go:", *(f"  - {b}" for b in blockers)]
    open_actions = [a for a in app["actions"] if a["status"] != "approved"]
    lines += [
        f"- Corrective action #{a['id']}: {a['title']} (owner {a['owner']}, due {a['due']}, "
        f"{'OVERDUE' if a['overdue'] else a['status']})"
        for a in open_actions
    ]
    return [*lines, ""]


def agenda_markdown(apps: Sequence[dict[str, Any]], start: datetime) -> str:
    """The agenda for the applications with an open gate (full views from the service)."""
    open_apps = [a for a in apps if a["gate"] is not None and a["state"] != "stopped"]
    lines = [f"# {TITLE}, {start.astimezone(UTC):%Y-%m-%d %H:%M} UTC", ""]
    if not open_apps:
        lines += ["No application is waiting at a gate.", ""]
    for app in open_apps:
        lines += _item(app)
    return "\n".join(lines)


def _ics_text(value: str) -> str:
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _fold(line: str) -> str:
    """RFC 5545 3.1: lines longer than 75 octets continue on lines starting with a space."""
    data, parts = line.encode(), list[str]()
    while len(data) > 75:
        cut = 75 if not parts else 74
        while (data[cut] & 0xC0) == 0x80:  # never split a UTF-8 character
            cut -= 1
        parts.append(data[:cut].decode())
        data = data[cut:]
    parts.append(data.decode())
    return "\r\n ".join(parts)


def agenda_ics(apps: Sequence[dict[str, Any]], start: datetime, duration: timedelta = timedelta(hours=1)) -> str:
    """One VEVENT for the meeting, the Markdown agenda as its description."""
    stamp = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    begin = start.astimezone(UTC)
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//FOSSP//Stage gate review//EN",
        "BEGIN:VEVENT",
        f"UID:gate-review-{begin:%Y%m%dT%H%M%SZ}@fossp",
        f"DTSTAMP:{stamp}",
        f"DTSTART:{begin:%Y%m%dT%H%M%SZ}",
        f"DTEND:{begin + duration:%Y%m%dT%H%M%SZ}",
        f"SUMMARY:{_ics_text(TITLE)}",
        f"DESCRIPTION:{_ics_text(agenda_markdown(apps, start))}",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"
