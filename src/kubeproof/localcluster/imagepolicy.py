"""The local cluster's signed, pinned images: its registry, its cosign key and signatures, and
sigstore's policy-controller webhook, which admits only signed digests in the app namespace.

Every image of the cluster is an OCI archive; a registry keeps its manifest digest, so pods
name it `kubeproof.local/NAME@sha256:...` (containerd has it locally under that name). cosign
signs each digest once per signing key; the signatures live in one repository of the local
registry (cosign's COSIGN_REPOSITORY), where the webhook finds them by digest without ever
resolving `kubeproof.local`. The key and the registry's storage are kept in the build cache
(`signing/`, `registry/KEY-ID/`), so a bring-up signs only what it has not signed before.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import yaml

from .. import probeimage
from ..errors import KubeproofError
from . import configs
from .layout import Layout, cache_dir
from .shell import delete_netns, run, succeeds

# The registry and the webhook run in a network namespace of their own, as pods would: the
# webhook's servers (HTTPS 8443, health 8080, profiling 8008) bind every address of theirs and
# take no address to bind, and the node's 8080 is the API server's legacy port that
# tls.api-server probes. Pods cannot reach it (the egress guard forwards only the cluster's own
# networks); the API server reaches the webhook through a Service whose endpoint is ADDRESS.
NETNS = "kubeproof-images"
VETH = "kpimg0"
HOST_SIDE = "10.245.0.1"
ADDRESS = "10.245.0.2"  # 10.240-10.242 are the self-tests' and test hosts' netns
REGISTRY = f"{ADDRESS}:5055"  # plain HTTP, as go-containerregistry speaks to private addresses
REGISTRY_URL = f"http://{REGISTRY}/v2/"
SIGNATURE_REPOSITORY = "kubeproof/signatures"
SIGNATURES = f"{REGISTRY}/{SIGNATURE_REPOSITORY}"
WEBHOOK_PORT = 8443  # fixed: policy-controller reads its --secure-port after using it
NAMESPACE = "cosign-system"
WEBHOOK = "policy.sigstore.dev"  # its ValidatingWebhookConfiguration
OPT_IN_LABEL = "policy.sigstore.dev/include"
IMAGE_REPOSITORY = "kubeproof.local"


def set_up_netns() -> None:
    """Creates the namespace, its veth pair to the host and its default route to the node."""
    tear_down_netns()
    run("ip", "netns", "add", NETNS)
    run("ip", "link", "add", VETH, "type", "veth", "peer", "name", f"{VETH}p")
    run("ip", "link", "set", f"{VETH}p", "netns", NETNS)
    run("ip", "addr", "add", f"{HOST_SIDE}/30", "dev", VETH)
    run("ip", "link", "set", VETH, "up")
    inside = ("ip", "-n", NETNS)
    run(*inside, "link", "set", f"{VETH}p", "name", "eth0")
    run(*inside, "addr", "add", f"{ADDRESS}/30", "dev", "eth0")
    run(*inside, "link", "set", "eth0", "up")
    run(*inside, "link", "set", "lo", "up")
    run(*inside, "route", "add", "default", "via", HOST_SIDE)


def tear_down_netns() -> None:
    """Kills what still runs in the namespace and removes it with its veth (gone is fine)."""
    delete_netns(NETNS)
    succeeds("ip", "link", "delete", VETH)


def netns_exists() -> bool:
    """Whether the namespace is there (after a teardown it must not be)."""
    return succeeds("ip", "netns", "pids", NETNS)


def in_netns(argv: list[str]) -> list[str]:
    """A command line run inside the namespace."""
    return ["ip", "netns", "exec", NETNS, *argv]


def registry_argv(binary: Path, layout: Layout, public: Path) -> list[str]:
    """The registry's command line (inside the namespace)."""
    return in_netns([str(binary), "serve", str(registry_config(layout, public))])


def signing_dir() -> Path:
    """Where the local cluster keeps its cosign key pair and the key's password."""
    return cache_dir() / "signing"


def _password() -> str:
    return (signing_dir() / "password").read_text().strip()


def ensure_key(cosign: Path) -> Path:
    """The cosign public key; the key pair (password-protected) is created on first use."""
    folder = signing_dir()
    public = folder / "cosign.pub"
    if public.is_file() and (folder / "cosign.key").is_file():
        return public
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    configs.write_file(folder / "password", secrets.token_urlsafe(24) + "\n", 0o600)
    for stale in ("cosign.key", "cosign.pub"):
        (folder / stale).unlink(missing_ok=True)
    _cosign(cosign, "generate-key-pair", "--output-key-prefix", str(folder / "cosign"))
    return public


def key_id(public: Path) -> str:
    """A short id of a public key (names the registry storage its signatures live in)."""
    return hashlib.sha256(public.read_bytes()).hexdigest()[:12]


def registry_config(layout: Layout, public: Path) -> Path:
    """Writes the registry's configuration: the namespace's address, storage in the cache
    for this key."""
    storage = cache_dir() / "registry" / key_id(public)
    storage.mkdir(parents=True, exist_ok=True)
    config = {
        "version": 0.1,
        "storage": {"filesystem": {"rootdirectory": str(storage)}},
        "http": {"addr": REGISTRY},
        "log": {"level": "warn", "accesslog": {"disabled": True}},
    }
    return configs.write_file(layout.config / "registry.yaml", yaml.safe_dump(config))


def name_and_tag(archive: Path) -> tuple[str, str]:
    """The image name and tag of one of the cluster's archives (CACHE/images/NAME-TAG.oci.tar)."""
    name, tag = archive.name.removesuffix(".oci.tar").rsplit("-", 1)
    return name, tag


def name_of(archive: Path) -> str:
    """The image name of one of the cluster's archives."""
    return name_and_tag(archive)[0]


def tagged(archive: Path) -> str:
    """The tag an archive's image carries: kubeproof.local/NAME:TAG."""
    name, tag = name_and_tag(archive)
    return f"{IMAGE_REPOSITORY}/{name}:{tag}"


def pinned(archive: Path) -> str:
    """The reference pods use for an archive's image: kubeproof.local/NAME@sha256:..."""
    return f"{IMAGE_REPOSITORY}/{name_of(archive)}@{probeimage.digest(archive)}"


def is_signed(digest: str) -> bool:
    """Whether the local registry holds a signature for this digest (cosign's tag for it)."""
    tag = digest.replace(":", "-") + ".sig"
    url = f"{REGISTRY_URL}{SIGNATURE_REPOSITORY}/manifests/{tag}"
    request = urllib.request.Request(url, method="HEAD", headers={"Accept": ", ".join((
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json"))})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status == 200
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return False
        raise KubeproofError(f"local registry: HEAD {url} answered {exc.code}") from None
    except OSError as exc:
        raise KubeproofError(f"local registry at {REGISTRY} is not reachable: {exc}") from None


def sign_images(cosign: Path, archives: list[Path], progress) -> None:
    """Pushes each archive's image to the local registry and signs its digest, unless a
    signature for it is there already."""
    for archive in archives:
        digest = probeimage.digest(archive)
        if is_signed(digest):
            continue
        progress(f"signing {tagged(archive)} ({digest[:19]}) with the local cosign key")
        name, tag = name_and_tag(archive)
        pushed = f"{REGISTRY}/kubeproof/{name}"
        probeimage.push(f"docker://{pushed}:{tag}", ("--dest-tls-verify=false",), archive)
        _cosign(cosign, "sign", "--yes", "--key", str(signing_dir() / "cosign.key"),
                "--tlog-upload=false", f"{pushed}@{digest}")


def _cosign(cosign: Path, *args: str) -> str:
    env = {**os.environ, "COSIGN_PASSWORD": _password(), "COSIGN_REPOSITORY": SIGNATURES,
           "HOME": str(signing_dir())}
    done = subprocess.run([str(cosign), *args], capture_output=True, text=True, env=env,
                          timeout=120)
    if done.returncode != 0:
        raise KubeproofError(f"cosign {args[0]} failed: {done.stderr.strip()[-500:]}")
    return done.stdout


def webhook_environment(layout: Layout) -> dict[str, str]:
    """policy-controller's environment: its namespace, config names, and a kubeconfig with
    its own client certificate (it runs as a process in its namespace, not in a pod)."""
    home = layout.data / "policy-controller"
    home.mkdir(parents=True, exist_ok=True)
    return {
        "KUBECONFIG": str(layout.kubeconfig("image-policy")),
        "SYSTEM_NAMESPACE": NAMESPACE,
        "CONFIG_LOGGING_NAME": "config-logging",
        "CONFIG_OBSERVABILITY_NAME": "config-observability",
        "METRICS_DOMAIN": "sigstore.dev/policy",
        "METRICS_PROMETHEUS_HOST": "127.0.0.1",
        "WEBHOOK_NAME": "webhook",
        "HOME": str(home),
    }


def webhook_argv(binary: Path) -> list[str]:
    """policy-controller's command line (inside the namespace): no TUF root (no public
    Sigstore here; the local policy trusts the local key only)."""
    return in_netns([str(binary), "--disable-tuf"])


def manifest_values(archives: list[Path], public: Path) -> dict[str, str]:
    """The fixtures' values: each image's digest (NAME_DIGEST; fixtures write
    kubeproof.local/NAME@${NAME_DIGEST}), the policy's key and where the signatures are."""
    values = {f"{name_of(a).upper()}_DIGEST": probeimage.digest(a) for a in archives}
    values.update(
        IMAGE_SIGNING_KEY=json.dumps(public.read_text()),
        IMAGE_SIGNATURES=SIGNATURES,
        IMAGE_POLICY_NAMESPACE=NAMESPACE,
        IMAGE_POLICY_WEBHOOK_IP=ADDRESS,
        IMAGE_POLICY_WEBHOOK_PORT=str(WEBHOOK_PORT),
    )
    return values


def webhook_configured(kubectl) -> bool:
    """policy-controller has taken over its validating webhook: rules and CA bundle are in."""
    try:
        text = kubectl("get", "validatingwebhookconfiguration", WEBHOOK, "-o", "json")
    except KubeproofError:
        return False
    hooks = json.loads(text).get("webhooks") or []
    return any(h.get("rules") and h.get("clientConfig", {}).get("caBundle") for h in hooks)
