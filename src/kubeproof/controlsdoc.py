"""docs/CONTROLS.md's control tables, rendered from the catalogue (kubeproof.catalogue): the
catalogue is the one source, the document's prose around the tables is kept by hand.

    python -m kubeproof.controlsdoc docs/CONTROLS.md          # rewrite the tables
    python -m kubeproof.controlsdoc --check docs/CONTROLS.md  # exit 1 when they differ
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kubeproof.catalogue import CONTROLS, Control

HEADER = ("| id | item | kind | check |", "|---|---|---|---|")
# The document's section (its heading's first words) of each catalogue area.
SECTIONS = {
    "Host": ("host",),
    "Cluster": ("rbac", "tls", "auth", "etcd", "encryption", "audit", "admission", "cis"),
    "Workloads": ("seccomp", "podsecurity", "nonroot", "workload", "static", "images", "runtime"),
    "Egress and network": ("mesh", "egress", "netpol"),
}


def row(control: Control) -> str:
    """A control's table row: id, items (seed, references), kind, check."""
    items = " ".join(str(i) for i in control.items) + (" **seed**" if control.seed else "")
    items += "".join(f", {ref}" for ref in control.references)
    return f"| {control.id} | {items} | {control.kind} | {control.check} |"


def table(section: str) -> list[str]:
    """The header and rows of one section, in catalogue order."""
    return [*HEADER, *(row(c) for c in CONTROLS if c.area in SECTIONS[section])]


def render(text: str) -> str:
    """The document with each section's table replaced by the catalogue's (a section is the
    `## <name> (` heading; its table the first run of `|` lines after it)."""
    lines, out, section = text.splitlines(), [], None
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            section = next((s for s in SECTIONS if line.startswith(f"## {s} (")), None)
        if section and line.startswith("|"):
            while i < len(lines) and lines[i].startswith("|"):
                i += 1
            out += table(section)
            section = None
            continue
        out.append(line)
        i += 1
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kubeproof.controlsdoc",
                                     description="Render CONTROLS.md's tables from the "
                                                 "catalogue.")
    parser.add_argument("--check", action="store_true",
                        help="only say whether the file's tables match the catalogue")
    parser.add_argument("path", type=Path)
    args = parser.parse_args(argv)
    try:
        text = args.path.read_text()
    except OSError as exc:
        print(f"kubeproof.controlsdoc: cannot read {args.path}: {exc.strerror}", file=sys.stderr)
        return 2
    rendered = render(text)
    if args.check:
        if rendered != text:
            print(f"{args.path}: its tables differ from the catalogue; run python -m "
                  f"kubeproof.controlsdoc {args.path}", file=sys.stderr)
            return 1
        return 0
    args.path.write_text(rendered)
    return 0


if __name__ == "__main__":
    sys.exit(main())
