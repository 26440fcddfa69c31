"""Checkout runs: load the kubeproof plugin from src/ when it is not installed."""

from __future__ import annotations

import os
import sys
from importlib.metadata import entry_points
from pathlib import Path


def _installed() -> bool:
    """Whether pytest will load kubeproof through its pytest11 entry point."""
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        return False
    return any(ep.name == "kubeproof" for ep in entry_points(group="pytest11"))


pytest_plugins = ["pytester"]
if not _installed():
    sys.path.insert(0, str(Path(__file__).parent / "src"))
    pytest_plugins.append("kubeproof.plugin")
