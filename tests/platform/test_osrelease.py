"""/etc/os-release with FOSSP's keys: derived from the distribution's file and the roles,
written when it differs, and the distribution's link put back when no role is left."""

from __future__ import annotations

import subprocess
from pathlib import Path

from fossp.engine.operations import OpKind
from fossp.hosts.facts import Facts, FileFact, parse_os_release
from fossp.platform.osrelease import ETC, VENDOR, os_release_op, os_release_text
from tests.engine.conftest import recorded

DEBIAN = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n'
FEDORA = 'NAME="Fedora Linux"\nVERSION_ID=40\nID=fedora\nSUPPORT_END=2025-05-13\nVARIANT="Server Edition"\n'


def _facts(etc: FileFact | None) -> Facts:
    files = {VENDOR: FileFact(kind="file", path=VENDOR, content=DEBIAN.encode())}
    if etc is not None:
        files[ETC] = etc
    return recorded("debian12-bare").model_copy(update={"files": files})


def test_the_keys_name_the_release_its_level_and_the_roles() -> None:
    text = os_release_text(DEBIAN, ["FOSSP-DASPO", "FOSSP-WDSNG"])
    assert text.startswith(DEBIAN)
    parsed = dict(line.split("=", 1) for line in text.splitlines())
    assert parsed["VARIANT_ID"] == "fossp-server" and parsed["FOSSP_RELEASE"] == "1.0"
    assert parsed["FOSSP_RELEASE_LEVEL"] == "major" and parsed["FOSSP_ROLES"] == '"FOSSP-DASPO FOSSP-WDSNG"'
    assert parse_os_release(text).id == "debian"  # the distribution's keys are untouched


def test_the_distributions_variant_and_support_end_give_way_to_fossps() -> None:
    text = os_release_text(FEDORA, ["FOSSP-DASPO"])
    assert 'VARIANT="Server Edition"' not in text and 'VARIANT="FOSSP Server"' in text
    assert text.count("SUPPORT_END=") == 1 and "SUPPORT_END=2025-05-13" in text  # FOSSP 1.0 has no end


def test_the_shipped_link_becomes_a_file_and_an_equal_file_is_left_alone() -> None:
    link = FileFact(kind="link", path=ETC, link_target="../usr/lib/os-release")
    op = os_release_op(_facts(link), ["FOSSP-DASPO"], "FOSSP-DASPO")
    assert op.change and op.kind is OpKind.OS_RELEASE and op.commands[0][-1] == ETC
    same = FileFact(kind="file", path=ETC, content=os_release_text(DEBIAN, ["FOSSP-DASPO"]).encode())
    assert not os_release_op(_facts(same), ["FOSSP-DASPO"], "FOSSP-DASPO").change


def test_with_no_role_left_the_link_comes_back(tmp_path: Path) -> None:
    written = FileFact(kind="file", path=ETC, content=os_release_text(DEBIAN, ["FOSSP-DASPO"]).encode())
    op = os_release_op(_facts(written), [], "FOSSP-DASPO")
    assert op.change
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "os-release").write_text("VARIANT_ID=fossp-server\n")
    argv = [*op.commands[0][:-1], str(etc / "os-release")]
    subprocess.run(argv, check=True)
    assert (etc / "os-release").readlink() == Path("../usr/lib/os-release")
    shipped = FileFact(kind="link", path=ETC, link_target="../usr/lib/os-release")
    assert not os_release_op(_facts(shipped), [], "FOSSP-DASPO").change


def test_the_write_command_carries_the_text_as_an_argument(tmp_path: Path) -> None:
    op = os_release_op(_facts(None), ["FOSSP-WDSNG"], "FOSSP-WDSNG")
    target = tmp_path / "os-release"
    subprocess.run([*op.commands[0][:-1], str(target)], check=True)
    assert target.read_text() == os_release_text(DEBIAN, ["FOSSP-WDSNG"])


def test_the_keys_read_back_as_the_hosts_fossp_release() -> None:
    parsed = parse_os_release(os_release_text(FEDORA, ["FOSSP-DASPO", "FOSSP-WDSNG"]))
    assert parsed.fossp() == {
        "release": "1.0",
        "level": "major",
        "roles": ["FOSSP-DASPO", "FOSSP-WDSNG"],
        "support_end": "2025-05-13",
    }
    assert parse_os_release(FEDORA).fossp() == {}  # a host FOSSP never deployed to
