"""`fossp platform`: the fifteen platform components and their state on this machine."""

from __future__ import annotations

import typer

from fossp.cli.common import JsonOption, new_app

app = new_app("The FOSSP platform components (kernel, systemd, SELinux, BTRFS, ...).")


@app.command("check")
def check(as_json: JsonOption = False) -> None:
    """Check each platform component on this machine: pass, warn or fail, and what to do.

    Exit 0 only when every component passes, 1 otherwise.
    """
    from fossp.catalog import load_catalog
    from fossp.errors import EXIT_FINDING
    from fossp.output import emit, table
    from fossp.platform.checks import Outcome, check_platform
    from fossp.platform.facts import gather_local

    components = load_catalog().platform
    facts = gather_local(components)
    results = check_platform(components, facts)
    passed = all(r.outcome is Outcome.PASS for r in results)
    counts = {o.value: sum(r.outcome is o for r in results) for o in Outcome}
    data = {"ok": passed, "counts": counts, "components": [r.as_dict() for r in results]}
    emit(
        data,
        as_json,
        lambda: table(
            f"Platform check: {counts['pass']} pass, {counts['warn']} warn, {counts['fail']} fail",
            ["Component", "Result", "Detail", "What to do"],
            [[r.name, r.outcome.value.upper(), r.detail, r.remedy or ""] for r in results],
        ),
    )
    if not passed:
        raise typer.Exit(EXIT_FINDING)
