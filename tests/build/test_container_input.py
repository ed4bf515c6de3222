"""`fossp build container` and `fossp container run`: bad input is refused in one line with
exit 2 before any work (no root built, nothing written), and the image's configuration
and Containerfile are made from the profile."""

from __future__ import annotations

from pathlib import Path

import pytest

from fossp.build.container import image_for
from fossp.build.offline import BuiltRoot, check_profile
from tests.conftest import run_fossp

PROFILE = "fossp_profile: 1\nroles:\n  - id: FOSSP-DASPO\n  - id: FOSSP-WDSNG\n"


@pytest.fixture
def profile(tmp_path: Path) -> Path:
    path = tmp_path / "pgweb.yaml"
    path.write_text(PROFILE)
    return path


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--format", "tar"], "--format 'tar': oci or docker"),
        (["--tag", "a/b"], "--tag 'a/b': not an image tag"),
        (["--ssh-key", "/nonexistent.pub"], "--ssh-key /nonexistent.pub: cannot read it"),
    ],
)
def test_bad_options_are_refused_before_any_work(profile: Path, tmp_path: Path, extra: list[str], message: str) -> None:
    output = tmp_path / "out.tar"
    done = run_fossp("build", "container", "--profile", str(profile), "-o", str(output), *extra)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not output.exists()


def test_an_existing_output_needs_force_and_is_left_alone(profile: Path, tmp_path: Path) -> None:
    output = tmp_path / "out.tar"
    output.write_text("an older image\n")
    done = run_fossp("container", "build", "--profile", str(profile), "-o", str(output))
    assert done.returncode == 2 and "exists; give --force" in done.stderr
    assert output.read_text() == "an older image\n"


@pytest.mark.parametrize(
    ("roles", "message"),
    [
        (["FOSSP-WDSHT", "FOSSP-WDSNG"], "cannot share a host"),
        (["FOSSP-HPSOS"], "spans hosts"),
    ],
)
def test_roles_a_single_root_cannot_hold_are_refused(tmp_path: Path, roles: list[str], message: str) -> None:
    profile = tmp_path / "p.yaml"
    profile.write_text("fossp_profile: 1\nroles:\n" + "".join(f"  - id: {r}\n" for r in roles))
    done = run_fossp("build", "root", "--profile", str(profile))
    assert done.returncode == 2 and message in done.stderr, done.stderr


def test_run_refuses_a_missing_archive_and_an_unknown_engine(tmp_path: Path) -> None:
    missing = run_fossp("container", "run", str(tmp_path / "none.tar"))
    assert missing.returncode == 2 and "no such archive" in missing.stderr
    archive = tmp_path / "a.tar"
    archive.write_text("")
    engine = run_fossp("container", "run", str(archive), "--engine", "docker")
    assert engine.returncode == 2 and "--engine 'docker': podman or nspawn" in engine.stderr


def test_the_image_starts_systemd_and_says_what_it_holds(profile: Path) -> None:
    image = image_for(check_profile(profile), "v1")
    argv = image.config_argv(Path("/tmp/layout"))
    assert argv[:4] == ["umoci", "config", "--image", "/tmp/layout:v1"]
    assert argv[4:6] == ["--config.cmd", "/sbin/init"] and "SIGRTMIN+3" in argv
    assert image.ports == ["22/tcp", "5432/tcp", "80/tcp"]
    assert image.labels["io.fossp.roles"] == "FOSSP-DASPO FOSSP-WDSNG"
    assert image.labels["io.fossp.data"].split() == ["/var/lib/postgresql", "/var/log/postgresql", "/var/log/nginx"]
    built = BuiltRoot(Path("/r"), ["install-packages nginx"], ["FOSSP-DASPO create-database"])
    text = image.containerfile(built)
    assert text.splitlines()[-1] == 'CMD ["/sbin/init"]' and "FROM scratch" in text
    assert "#   install-packages nginx" in text and "first boot (fossp-firstboot.service): FOSSP-DASPO" in text


def test_a_root_built_earlier_is_not_replaced_unasked(profile: Path) -> None:
    from fossp.build.offline import root_folder

    folder = root_folder("kept-earlier")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "marker").write_text("an earlier build\n")
    try:
        done = run_fossp("build", "root", "--profile", str(profile), "--name", "kept-earlier")
        assert done.returncode == 2 and "give --force to replace it" in done.stderr, done.stderr
        assert (folder / "marker").read_text() == "an earlier build\n"
    finally:
        (folder / "marker").unlink()
        folder.rmdir()
