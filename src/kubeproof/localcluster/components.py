"""Where the local cluster's binaries and images come from: pinned versions and the build cache."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import KubeproofError
from .layout import cache_dir

PROVISION_DIR = Path(__file__).resolve().parents[3] / "provision" / "local"
KUBERNETES_BINARIES = (
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "kube-proxy",
    "kubectl",
)
BOOTSTRAP_HINT = "run `make bootstrap` (or provision/local/bootstrap.sh) first"


def versions() -> dict[str, str]:
    """The pinned versions from provision/local/versions.env."""
    pinned = {}
    for line in (PROVISION_DIR / "versions.env").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            pinned[key.strip()] = value.strip()
    return pinned


@dataclass(frozen=True)
class Components:
    """Resolved paths of every binary and image tarball the local cluster runs."""

    binaries: dict[str, Path]
    images: list[Path]
    versions: dict[str, str]

    @property
    def pinned_images(self) -> list[Path]:
        """The OCI archives: images pods pin by digest and the local cosign key signs (the
        pause image is containerd's sandbox image, named by tag in its config)."""
        return [image for image in self.images if image.name.endswith(".oci.tar")]

    @property
    def image_policy_manifests(self) -> Path:
        """policy-controller's own install manifests (CRDs, roles, config maps)."""
        return self.binaries["policy-controller"].parent / "config"


def resolve() -> Components:
    """Finds every binary and image; a missing one is a KubeproofError naming it and the fix."""
    pinned = versions()
    cache = cache_dir()
    k8s_dir = Path(
        os.environ.get("KUBEPROOF_BIN_DIR")
        or cache / "bin" / f"kubernetes-{pinned['KUBERNETES_VERSION']}"
    )
    binaries = {name: k8s_dir / name for name in KUBERNETES_BINARIES}
    etcd_dir = cache / "bin" / f"etcd-{pinned['ETCD_VERSION']}"
    binaries["etcd"] = etcd_dir / "etcd"
    binaries["etcdctl"] = etcd_dir / "etcdctl"
    if "NETPOL_ENFORCER" in pinned:
        enforcer = pinned["NETPOL_ENFORCER"]
        binaries["netpol"] = cache / "bin" / f"{enforcer}-{pinned['NETPOL_VERSION']}" / enforcer
    keycloak_dir = cache / "tools" / f"keycloak-{pinned['KEYCLOAK_VERSION']}"
    binaries["keycloak"] = keycloak_dir / "bin" / "kc.sh"
    for tool, version in (("cosign", "COSIGN_VERSION"), ("policy-controller",
                          "POLICY_CONTROLLER_VERSION"), ("registry", "REGISTRY_VERSION")):
        binaries[tool] = cache / "bin" / f"{tool}-{pinned[version]}" / tool
    for tool in ("containerd", "containerd-shim-runc-v2", "runc", "ctr"):
        found = shutil.which(tool)
        binaries[tool] = Path(found) if found else Path("/usr/bin") / tool
    missing = [f"{name} ({path})" for name, path in binaries.items() if not path.is_file()]
    images = [
        cache / "images" / f"{name}-{pinned[tag]}.{ext}"
        for name, tag, ext in (
            ("pause", "PAUSE_TAG", "tar"),
            ("probe", "PROBE_TAG", "oci.tar"),
            ("pegress", "PEGRESS_TAG", "oci.tar"),
            ("coredns", "COREDNS_VERSION", "oci.tar"),
            ("envoy", "ENVOY_VERSION", "oci.tar"),
        )
    ]
    missing += [str(path) for path in images if not path.is_file()]
    if missing:
        raise KubeproofError(f"local cluster: missing {', '.join(missing)}; {BOOTSTRAP_HINT}")
    return Components(binaries, images, pinned)
