"""The target registry: target names and where their classes live (imported on demand)."""

from __future__ import annotations

import importlib
from typing import Any

from kubeproof.errors import KubeproofError
from kubeproof.targets.base import Target

DEFAULT = "local"
TARGETS = {
    "local": "kubeproof.targets.local:LocalTarget",
    "existing": "kubeproof.targets.existing:ExistingTarget",
    "terraform": "kubeproof.targets.terraform:TerraformTarget",
    "in-cluster": "kubeproof.targets.incluster:InClusterTarget",
}


def names() -> list[str]:
    """The registered target names."""
    return list(TARGETS)


def load(name: str) -> type[Target]:
    """The target class registered under a name (KubeproofError if unknown or unloadable)."""
    if name not in TARGETS:
        raise KubeproofError(f"unknown --target {name!r}: choose one of {', '.join(TARGETS)}")
    module_name, class_name = TARGETS[name].split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise KubeproofError(f"target {name!r} cannot be loaded ({exc}): reinstall kubeproof "
                             f"or choose another --target") from exc
    return getattr(module, class_name)


def from_config(config: Any) -> Target:
    """The target the run's options select, built by its class's from_config."""
    return load(config.getoption("target")).from_config(config)
