"""The terraform target (the reference scenario on AWS): not implemented yet."""

from __future__ import annotations

from typing import Any

from kubeproof.errors import KubeproofError
from kubeproof.targets.base import ClusterAccess, Target


class TerraformTarget(Target):
    """The reference scenario on AWS, created by Terraform and destroyed after the run."""

    name = "terraform"

    @classmethod
    def from_config(cls, config: Any) -> TerraformTarget:
        raise KubeproofError("the terraform target is not implemented yet: use --target local "
                             "or --target existing --kubeconfig PATH")

    def start(self) -> ClusterAccess:
        raise KubeproofError("the terraform target is not implemented yet")
