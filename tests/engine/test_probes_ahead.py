"""On-host probes run ahead in the facts round trip: the commands they would run, made
from the role's settings; none for a probe whose command cannot be made yet."""

from __future__ import annotations

from fossp.catalog import load_catalog
from fossp.engine.probes import on_host_commands
from fossp.secrets import FINGERPRINT


def test_the_commands_of_on_host_probes_only() -> None:
    catalog = load_catalog()
    postgresql, mariadb, nginx = (catalog.role(name) for name in ("postgresql", "mariadb", "nginx"))
    [psql] = on_host_commands(postgresql, {"port": 5433})
    assert psql[psql.index("-p") + 1] == "5433" and "psql" in psql
    assert "mysql" in on_host_commands(mariadb, {"port": 3306})[0]
    assert on_host_commands(nginx, {"http_port": 80}) == []  # HTTP goes from the controller
    assert on_host_commands(postgresql, {}) == []  # its port setting is not known yet


def test_a_probe_needing_a_secret_kept_as_a_fingerprint_runs_on_its_own() -> None:
    role = load_catalog().role("postgresql")
    probe = role.probes[0].model_copy(update={"password_setting": "password"})
    with_secret = role.model_copy(update={"probes": [probe]})
    assert on_host_commands(with_secret, {"port": 5432, "password": f"{FINGERPRINT}abc"}) == []
    assert len(on_host_commands(with_secret, {"port": 5432, "password": "typed"})) == 1
