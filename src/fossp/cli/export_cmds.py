"""`fossp export`: a profile's deploy for tools that run fleets already (Ansible, AWX)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fossp.cli.common import JsonOption, new_app

app = new_app("A profile's deploy for other tools: an Ansible playbook of ansible.builtin modules.")


@app.command("ansible")
def ansible(
    profile: Annotated[Path, typer.Option("--profile", "-p", help="Profile file (fossp recommend --save).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The folder to write (playbook.yml, secrets.yml).")],
    force: Annotated[bool, typer.Option("--force", help="Replace a folder that holds files.")] = False,
    as_json: JsonOption = False,
) -> None:
    """A playbook reaching the end state `fossp deploy` of the profile reaches on a Debian 12
    host, FOSSP's state included (then `fossp plan` is empty, `fossp status` and `fossp
    decommission` work). Made from a reference root deployed offline in the lab pool (needs
    root). Secrets go to secrets.yml (0600) beside it: `ansible-playbook -i INVENTORY playbook.yml`."""
    import os
    import sys

    from fossp.build.ansible import build_reference, check_output, render, write_export
    from fossp.build.offline import check_profile
    from fossp.errors import BadInput
    from fossp.output import emit

    build = check_profile(profile)
    target = output.absolute()
    check_output(target, force)
    if os.geteuid() != 0:
        raise BadInput("fossp export ansible needs root: it deploys the profile into a reference root first")
    ref = build_reference(build, lambda line: print(line, file=sys.stderr, flush=True))
    export = render(ref, f"FOSSP profile {profile.name}: {', '.join(build.role_ids)}")
    playbook, secrets = write_export(export, target)
    data = {
        "roles": build.role_ids,
        "output": str(target),
        "playbook": str(playbook),
        "secrets": str(secrets),
        "tasks": export.tasks,
        "assumed": [{"role": a.role, "var": a.var, "package": a.package, "value": a.value} for a in ref.assumed],
        "run_id": ref.run,
    }
    emit(data, as_json, lambda: typer.echo(f"wrote {playbook} ({export.tasks} tasks) and {secrets}"))
