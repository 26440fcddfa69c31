"""The README's options table names every kubeproof option (and no option that is gone)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kubeproof import options

README = Path(__file__).resolve().parents[2] / "README.md"


def _registered() -> set[str]:
    parser = pytest.Parser(_ispytest=True)
    options.add_options(parser)
    group = parser.getgroup("kubeproof")
    return {name for option in group.options for name in option.names()
            if name.startswith("--")}


def _documented() -> set[str]:
    table = README.read_text().split("## Options")[1].split("\n## ")[0]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    return {flag for row in rows
            for flag in re.findall(r"`(--[a-z][a-z0-9-]*)", row.split(" | ")[0])}


def test_every_option_is_in_the_readme_table():
    assert {"--target", "--kubeproof-html", "--compare", "--sarif"} <= _registered()
    assert _registered() - _documented() == set()


def test_the_readme_table_names_no_unknown_option():
    assert _documented() - _registered() == set()
