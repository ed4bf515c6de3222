"""A local RPM repository built with rpmbuild and createrepo_c, for real dnf tests.

It holds a stand-in ``nginx`` (config folder, unit file, and a dependency) so the nginx
role can be deployed into an offline Fedora root with the real dnf, rpm and systemctl.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

TOOLS = ("rpmbuild", "createrepo_c", "dnf", "rpm", "systemctl")

SPEC = """\
Name: nginx
Version: 1.26.0
Release: 1.fossptest
Summary: stand-in nginx for FOSSP's tests
License: MIT
BuildArch: noarch
Requires: nginx-filesystem
%description
Config folder and unit file of nginx, nothing that runs.

%package -n nginx-filesystem
Summary: stand-in nginx folders
%description -n nginx-filesystem
Folders.

%package -n fossp-base
Summary: stand-in base system
%description -n fossp-base
Installed before FOSSP runs.

%install
mkdir -p %{buildroot}/etc/nginx/conf.d %{buildroot}/usr/lib/systemd/system %{buildroot}/usr/share/nginx
printf 'events {}\\nhttp { include /etc/nginx/conf.d/*.conf; }\\n' > %{buildroot}/etc/nginx/nginx.conf
printf '[Unit]\\nDescription=nginx\\n[Service]\\nExecStart=/usr/sbin/nginx\\n' \\
  > %{buildroot}/usr/lib/systemd/system/nginx.service
printf '[Install]\\nWantedBy=multi-user.target\\n' >> %{buildroot}/usr/lib/systemd/system/nginx.service
echo base > %{buildroot}/etc/fossp-base

%files
%config(noreplace) /etc/nginx/nginx.conf
%dir /etc/nginx/conf.d
/usr/lib/systemd/system/nginx.service

%files -n nginx-filesystem
%dir /etc/nginx
%dir /usr/share/nginx

%files -n fossp-base
/etc/fossp-base
"""


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def build_repo(folder: Path) -> Path:
    """Build the packages and index them; return the repository folder."""
    (folder / "nginx.spec").write_text(SPEC)
    subprocess.run(
        ["rpmbuild", "-bb", "--quiet", "--define", f"_topdir {folder / 'build'}", str(folder / "nginx.spec")],
        check=True,
        capture_output=True,
    )
    repo = folder / "repo"
    repo.mkdir()
    for rpm in (folder / "build" / "RPMS" / "noarch").glob("*.rpm"):
        shutil.copy(rpm, repo)
    subprocess.run(["createrepo_c", "-q", str(repo)], check=True)
    return repo


def fedora_root(folder: Path, repo: Path) -> Path:
    """An offline Fedora 40 root that reads only ``repo``, with a base package installed."""
    root = folder / "root"
    (root / "etc" / "yum.repos.d").mkdir(parents=True)
    (root / "etc" / "os-release").write_text('ID=fedora\nVERSION_ID=40\nPRETTY_NAME="Fedora Linux 40 (test root)"\n')
    (root / "etc" / "yum.repos.d" / "local.repo").write_text(
        f"[local]\nname=local\nbaseurl=file://{repo}\ngpgcheck=0\n"
    )
    subprocess.run(
        ["dnf", "-y", "-q", f"--installroot={root}", "--releasever=40", "install", "fossp-base"],
        check=True,
        capture_output=True,
    )
    return root
