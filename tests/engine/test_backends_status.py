"""Package backends' commands and dry-run parsing; live status and drift from facts."""

from __future__ import annotations

import hashlib

from fossp.catalog import Catalog
from fossp.catalog.schema import Family
from fossp.engine.backends import APT, backend_for, dnf_backend
from fossp.engine.state import parse_state
from fossp.engine.status import drift
from fossp.hosts.facts import FileFact

from .conftest import recorded

APT_DRY_RUN = """\
Reading package lists...
The following packages will be REMOVED:
  libpq5* postgresql* postgresql-15* pgadmin-tool*
Purg pgadmin-tool [1.0]
Purg postgresql [15+248]
Purg postgresql-15 [15.5-0+deb12u1]
Purg libpq5 [15.5-0+deb12u1]
"""


def test_apt_commands_and_removal_check() -> None:
    update, install = APT.install(["nginx"])
    assert update == ["env", "DEBIAN_FRONTEND=noninteractive", "NEEDRESTART_MODE=a", "apt-get", "update", "-q"]
    assert install[3:6] == ["apt-get", "install", "--no-install-recommends"] and install[-1] == "nginx"
    assert APT.others_affected(APT_DRY_RUN, ["postgresql", "postgresql-15", "libpq5"]) == {"pgadmin-tool"}
    assert APT.others_affected(APT_DRY_RUN, ["postgresql", "postgresql-15", "libpq5", "pgadmin-tool"]) == set()


def test_dnf_commands_for_an_offline_root() -> None:
    dnf = dnf_backend("/srv/root", "40")
    assert dnf.install(["bind"]) == [
        ["dnf", "-y", "-q", "--installroot=/srv/root", "--releasever=40", "install", "bind"]
    ]
    assert dnf.check_remove(["bind"]) == ["rpm", "--root", "/srv/root", "-e", "--test", "bind"]
    output = "error: Failed dependencies:\n\tbind is needed by (installed) bind-dyndb-ldap-11.10-1.fc40.x86_64\n"
    assert dnf.others_affected(output, ["bind"]) == {"bind-dyndb-ldap-11.10-1.fc40.x86_64"}
    assert "clean_requirements_on_remove=False" in " ".join(dnf.remove(["bind"]))


def test_backend_follows_the_family() -> None:
    assert backend_for(recorded("fedora40-bare")).name == "dnf"
    assert backend_for(recorded("debian12-bare")).name == "apt"


def test_status_of_a_deployed_host_has_no_drift(catalog: Catalog) -> None:
    facts = recorded("debian12-deployed")
    state = parse_state(facts)
    for role_id in ("FOSSP-DASPO", "FOSSP-WDSNG", "FOSSP-NESBI"):
        role = catalog.roles[role_id]
        assert drift(facts, state, role_id, role.units[Family.DEBIAN], role.packages[Family.DEBIAN].packages) == (
            [],
            [],
        )


def test_drift_names_changed_and_missing_files_and_stopped_units(catalog: Catalog) -> None:
    facts = recorded("debian12-deployed")
    state = parse_state(facts)
    files = dict(facts.files)
    files["/etc/nginx/conf.d/fossp.conf"] = FileFact(
        path="/etc/nginx/conf.d/fossp.conf", kind="file", content=b"# mine\n"
    )
    del files["/srv/www/fossp/index.html"]
    units = dict(facts.units)
    units["nginx.service"] = units["nginx.service"].model_copy(update={"active": "failed"})
    changed = facts.model_copy(update={"files": files, "units": units})
    nginx = catalog.roles["FOSSP-WDSNG"]
    found = drift(changed, state, nginx.id, nginx.units[Family.DEBIAN], nginx.packages[Family.DEBIAN].packages)
    assert found == (
        ["/etc/nginx/conf.d/fossp.conf changed since FOSSP wrote it", "/srv/www/fossp/index.html is missing"],
        ["unit nginx.service is failed"],
    )
    assert (
        state.wrote(nginx.id)["/etc/nginx/conf.d/fossp.conf"]
        == hashlib.sha256(facts.files["/etc/nginx/conf.d/fossp.conf"].content or b"").hexdigest()
    )
