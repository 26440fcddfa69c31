"""The catalogue holds exactly the controls of CONTROLS.md, with their items and seed flags."""

from __future__ import annotations

import re

import pytest

from conftest import CONTROLS_MD_COPY, CONTROLS_MD_SHARED
from kubeproof import catalogue, controlsdoc

ROW = re.compile(r"^\| ([a-z]+\.[a-z0-9-]+) \| ([^|]+) \| ([a-z+]+) \|", re.M)
AREAS = {"rbac", "seccomp", "podsecurity", "nonroot", "netpol", "egress", "mesh", "tls", "etcd",
         "encryption", "audit", "host", "auth", "admission", "workload", "static", "images",
         "runtime", "cis"}


def spec_rows() -> dict[str, tuple[tuple[int, ...], bool, str, tuple[str, ...]]]:
    """id -> (items, seed, kind, references) parsed from docs/CONTROLS.md."""
    rows = {}
    for control_id, item_col, kind in ROW.findall(CONTROLS_MD_COPY.read_text()):
        first, *refs = [part.strip() for part in item_col.split(",")]
        seed = "**seed**" in first
        items = tuple(int(n) for n in first.replace("**seed**", "").split())
        rows[control_id] = (items, seed, kind, tuple(refs))
    return rows


def test_checked_in_copy_keeps_every_row_of_the_design():
    """docs/CONTROLS.md holds the design's rows unchanged, and the controls issues added
    since (the CIS sections' controls)."""
    if not CONTROLS_MD_SHARED.is_file():
        pytest.skip(f"{CONTROLS_MD_SHARED} is not here; the checked-in copy is the reference")
    copy = CONTROLS_MD_COPY.read_text().splitlines()
    missing = [line for line in CONTROLS_MD_SHARED.read_text().splitlines()
               if ROW.match(line) and line not in copy]
    assert not missing, ("rows of the design's CONTROLS.md missing or changed in "
                         "docs/CONTROLS.md:\n" + "\n".join(missing))


def test_catalogue_ids_are_exactly_the_spec_ids():
    spec = spec_rows()
    assert len(spec) > 40
    assert [c.id for c in catalogue.CONTROLS] == list(spec)


@pytest.mark.parametrize("control", catalogue.CONTROLS, ids=lambda c: c.id)
def test_record_matches_its_spec_row(control):
    items, seed, kind, refs = spec_rows()[control.id]
    assert (control.items, control.seed, control.kind, control.references) == (
        items, seed, kind, refs)
    assert control.title and control.remediation


def test_areas_are_the_id_prefixes():
    assert set(catalogue.AREAS) == AREAS


def test_markers_of_a_seed_control():
    control = catalogue.get("host.kubelet-hardening")
    assert control.markers == ("acceptance", "host", "item1", "item2")
    assert catalogue.get("seccomp.keyctl-denied").markers == (
        "acceptance", "seccomp", "seed", "item6")


def test_every_generated_marker_is_described():
    described = catalogue.marker_descriptions()
    for control in catalogue.CONTROLS:
        assert set(control.markers) <= set(described)


def test_nearest_ids():
    assert catalogue.nearest("rbac.app-user-denied-kube")[0] == "rbac.app-user-denied-kube-system"
    assert set(catalogue.nearest("netpol.zzz")) == {"netpol.default-deny", "netpol.enforced"}


def test_controls_md_tables_are_rendered_from_the_catalogue():
    """docs/CONTROLS.md's tables are the catalogue's rows (python -m kubeproof.controlsdoc
    renders them), and every area has its section."""
    text = CONTROLS_MD_COPY.read_text()
    assert controlsdoc.render(text) == text, (
        "docs/CONTROLS.md differs from the catalogue: run python -m kubeproof.controlsdoc "
        "docs/CONTROLS.md")
    placed = {area for areas in controlsdoc.SECTIONS.values() for area in areas}
    assert set(catalogue.AREAS) <= placed


def test_controlsdoc_check_says_when_the_tables_differ(tmp_path, capsys):
    stale = tmp_path / "CONTROLS.md"
    stale.write_text(CONTROLS_MD_COPY.read_text().replace("| host.hids |", "| host.old |"))
    assert controlsdoc.main(["--check", str(stale)]) == 1
    assert "differ from the catalogue" in capsys.readouterr().err
    assert controlsdoc.main([str(stale)]) == 0
    assert controlsdoc.main(["--check", str(stale)]) == 0
