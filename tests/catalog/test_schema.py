"""The schema refuses each kind of bad entry with the file, the field and the reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from fossp.catalog import CatalogError, build_catalog
from fossp.errors import BadInput


def _edit(data_dir: Path, name: str, change: Any) -> Path:
    path = data_dir / "roles" / f"{name}.yaml"
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _set(key: str, value: Any) -> Any:
    def change(data: dict[str, Any]) -> None:
        target = data
        parts = key.split(".")
        for part in parts[:-1]:
            target = target[int(part)] if isinstance(target, list) else target[part]
        last = parts[-1]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value

    return change


BAD_ENTRIES = [
    ("unknown field", _set("colour", "blue"), "colour", "Extra inputs are not permitted"),
    ("role id pattern", _set("id", "FOSSP-postgres"), "id", "should match pattern"),
    ("id scheme", _set("code", "PG"), "id", "does not follow the ID scheme"),
    ("port range", _set("ports.0.port", 70000), "ports.0.port", "less than or equal to 65535"),
    ("protocol", _set("ports.0.protocol", "icmp"), "ports.0.protocol", "'tcp', 'udp' or 'sctp'"),
    ("family missing", _set("packages", {"fedora": {"packages": ["postgresql-server"]}}), "packages", "missing debian"),
    ("unavailable without note", _set("packages.debian", {"available": False}), "packages.debian", "needs a note"),
    ("bad default", _set("settings.0.default", "five"), "settings.0", "expected an integer"),
    ("port default range", _set("settings.0.default", 0), "settings.0", "below the minimum 1"),
    ("choice without choices", _set("settings.0.type", "choice"), "settings.0", "needs choices"),
    ("secret with default", _set("settings.1.type", "secret"), "settings.1", "must not have a default"),
    ("unknown feature", _set("features", ["time-travel"]), "features", "unknown feature 'time-travel'"),
    ("unknown service", _set("service", "astrology"), "service", "unknown service 'astrology'"),
    (
        "unknown required role",
        _set("requires", [{"role": "FOSSP-ZZSZZ", "reason": "x"}]),
        "requires",
        "unknown role FOSSP-ZZSZZ",
    ),
    ("probe without port", _set("probes.0.port", None), "probes.0", "needs a port"),
    (
        "dead upstream without replacement",
        _set("upstream", {"status": "dead"}),
        "upstream",
        "needs a reason and a suggested replacement",
    ),
    (
        "support end before release",
        _set("lifecycle.support_end", "2001-01-01"),
        "lifecycle",
        "support_end is before release_date",
    ),
    ("launched without probes", _set("probes", []), "(top level)", "needs at least one health probe"),
    ("unknown setting reference", _set("ports.0.setting", "nope"), "(top level)", "unknown setting 'nope'"),
    ("bad release string", _set("lifecycle.release", "2015"), "lifecycle.release", "should match pattern"),
    ("unit name", _set("units.fedora", ["postgresql; rm -rf /"]), "units.fedora.0", "should match pattern"),
]


@pytest.mark.parametrize(("label", "change", "field", "reason"), BAD_ENTRIES, ids=[b[0] for b in BAD_ENTRIES])
def test_bad_entry_is_refused_naming_file_field_and_reason(
    data_copy: Path, label: str, change: Any, field: str, reason: str
) -> None:
    _edit(data_copy, "postgresql", change)
    with pytest.raises(CatalogError) as caught:
        build_catalog(data_copy)
    message = caught.value.message
    assert "postgresql.yaml" in message, message
    if field != "(top level)":
        assert f"field '{field}" in message, message
    assert reason in message, message
    assert "\n" not in message


def test_duplicate_role_id_is_refused(data_copy: Path) -> None:
    source = data_copy / "roles" / "postgresql.yaml"
    (data_copy / "roles" / "zz-copy.yaml").write_text(source.read_text().replace("name: postgresql", "name: zz-copy"))
    with pytest.raises(CatalogError, match=r"zz-copy.yaml: field 'id': FOSSP-DASPO is already used by postgresql.yaml"):
        build_catalog(data_copy)


def test_invalid_yaml_names_the_line(data_copy: Path) -> None:
    (data_copy / "roles" / "postgresql.yaml").write_text("id: [unclosed\nname: x\n")
    with pytest.raises(BadInput, match=r"postgresql.yaml: line \d+ is not valid YAML"):
        build_catalog(data_copy)


def test_site_roles_folder_adds_a_role(data_copy: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    text = (data_copy / "roles" / "nginx.yaml").read_text()
    (site / "nginx-alt.yaml").write_text(
        text.replace("FOSSP-WDSNG", "FOSSP-WDSNX")
        .replace("name: nginx", "name: nginx-alt")
        .replace("code: NG", "code: NX")
    )
    catalog = build_catalog(data_copy, [site])
    assert catalog.role("nginx-alt").id == "FOSSP-WDSNX"
    assert catalog.sources["FOSSP-WDSNX"] == str(site / "nginx-alt.yaml")


def test_unknown_role_lookup_suggests_close_names(data_copy: Path) -> None:
    catalog = build_catalog(data_copy)
    with pytest.raises(BadInput, match=r"unknown role 'postgres'; did you mean postgresql"):
        catalog.role("postgres")
