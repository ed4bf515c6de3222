"""Only launched roles deploy by default; preview roles on request; retired roles never."""

from __future__ import annotations

import pytest

from tests.conftest import run_fossp

UNREACHABLE = ["--target", "127.0.0.1:9"]  # the discard port: nothing listens, nothing is changed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["plan", "eucalyptus"], "FOSSP-CLSEU (Eucalyptus) is not offered for deploy: upstream is dead"),
        (["deploy", "wildfly"], "catalog status is preview (use --include-preview"),
        (["deploy", "eucalyptus", "--include-preview"], "upstream is dead"),
    ],
)
def test_roles_not_offered_are_refused_before_any_host_is_reached(args: list[str], message: str) -> None:
    done = run_fossp(*args, *UNREACHABLE)
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr


def test_include_preview_lets_a_preview_role_through_to_the_host() -> None:
    done = run_fossp("plan", "wildfly", "--include-preview", *UNREACHABLE, "--json")
    assert "not offered for deploy" not in done.stderr
    assert done.returncode == 1  # the role was accepted; the unreachable host is what failed


def test_required_roles_are_added_and_said() -> None:
    done = run_fossp("plan", "nginx-rtmp", *UNREACHABLE)
    assert "adding FOSSP-WDSNG (nginx), required by FOSSP-MSSNG" in done.stderr
