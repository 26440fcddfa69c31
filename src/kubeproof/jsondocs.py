"""JSON report documents: writing them, their vendored schemas, and schema errors as lines
(shared by the OSCAL, SARIF and HDF exports)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any


def write(path: Path, document: dict[str, Any]) -> None:
    """Write a document as indented JSON, making the parent directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")


def vendored_schema(file_name: str) -> dict[str, Any]:
    """A JSON schema vendored under kubeproof/schemas (sources in its README.md)."""
    return json.loads(resources.files("kubeproof").joinpath("schemas", file_name).read_text())


def schema_errors(validator: Any, document: dict[str, Any]) -> list[str]:
    """A jsonschema validator's errors for a document, one line each ([] when valid)."""
    return [f"/{'/'.join(str(p) for p in e.absolute_path)}: {e.message}"[:500]
            for e in validator.iter_errors(document)]
