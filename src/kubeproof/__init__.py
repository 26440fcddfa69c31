"""kubeproof: a pytest suite that proves a Kubernetes cluster's security controls work.

Control tests use::

    import kubeproof

    @kubeproof.control("rbac.app-user-denied-kube-system")
    def test_...(cluster, app_api, evidence): ...
"""

from __future__ import annotations

import pytest

__version__ = "0.1.0"


def control(control_id: str) -> pytest.MarkDecorator:
    """The mark that declares which catalogue control a test (or module, via pytestmark)
    proves; markers, metadata and remediation follow from the catalogue."""
    return pytest.mark.control(control_id)


def __getattr__(name: str):
    """Helpers for control tests, imported on first use (keeps `import kubeproof` light)."""
    if name in ("Evidence", "Inconclusive", "Verdict", "expect_denied"):
        from kubeproof import verdicts

        return getattr(verdicts, name)
    if name == "assert_denied":
        from kubeproof.kube import assert_denied

        return assert_denied
    if name == "require":
        from kubeproof.fixtures import require

        return require
    raise AttributeError(f"module 'kubeproof' has no attribute {name!r}")


__all__ = [
    "Evidence",
    "Inconclusive",
    "Verdict",
    "__version__",
    "assert_denied",
    "control",
    "expect_denied",
    "require",
]
