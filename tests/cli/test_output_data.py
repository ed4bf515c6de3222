"""Data prints as it is: rich neither turns ``:heartbeat:`` into an emoji nor reads
brackets in a reason, a target or a table cell as markup."""

from __future__ import annotations

import pytest

from fossp.cli.deploy_cmds import _show_plans
from fossp.engine.fleet import HostResult
from fossp.engine.operations import Operation, OpKind, Plan
from fossp.output import table


@pytest.fixture(autouse=True)
def _wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # one line per operation


REASON = "pcs resource create vip ocf:heartbeat:IPaddr2 [bold]ip=10.0.0.5[/bold] :smile:"


def test_plan_lines_print_resource_agents_and_brackets_as_they_are(capsys: pytest.CaptureFixture[str]) -> None:
    op = Operation(role="FOSSP-X", kind=OpKind.STEP, target="[red]vip[/red]", reason=REASON)
    _show_plans([HostResult(host="lab:[h]", seconds=0.1, value=Plan(host="h", operations=[op]))], as_json=False)
    out = capsys.readouterr().out
    assert REASON in out and "[red]vip[/red]" in out and "lab:[h]" in out
    assert "\N{BEATING HEART}" not in out and "💓" not in out


def test_table_cells_are_data(capsys: pytest.CaptureFixture[str]) -> None:
    table(None, ["what"], [["ocf:heartbeat:IPaddr2 [dim]x[/dim]"]])
    out = capsys.readouterr().out
    assert "ocf:heartbeat:IPaddr2 [dim]x[/dim]" in out
