"""App images: where they come from, how they are referenced, what they contain (item 10)."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess

import pytest
import yaml

import kubeproof

POLICY = "fixtures/image-policy.yaml"
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def registry_of(image: str) -> str:
    """The registry host of an image reference (docker.io when it names none)."""
    first, sep, _ = image.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


def image_ids(app_containers) -> dict[str, str]:
    """What each app container's image resolved to (status imageID), as evidence."""
    ids = {}
    for ac in app_containers:
        statuses = [*(ac.pod.status.init_container_statuses or []),
                    *(ac.pod.status.container_statuses or [])]
        ids[ac.name] = next((s.image_id for s in statuses if s.name == ac.container.name), None)
    return ids


@kubeproof.control("images.provenance")
def test_app_images_come_from_allowed_registries(pytestconfig, app_containers, evidence):
    """App images come from allowed registries."""
    allowed = yaml.safe_load((pytestconfig.rootpath / POLICY).read_text())["allowed_registries"]
    evidence.add(f"allowed registries ({POLICY})", allowed)
    images = {ac.name: ac.container.image for ac in app_containers}
    evidence.add("app images", images)
    outside = {name: image for name, image in images.items()
               if registry_of(image) not in allowed}
    assert not outside, f"app images from registries outside {allowed}: {outside}"


@kubeproof.control("images.provenance")
def test_app_images_are_pinned_by_digest(app_containers, evidence):
    """App images are referenced by digest (name@sha256:...), not by a movable tag."""
    images = {ac.name: ac.container.image for ac in app_containers}
    evidence.add("app images", images)
    evidence.add("resolved by the runtime (status imageID)", image_ids(app_containers))
    by_tag = {name: image for name, image in images.items() if not DIGEST.search(image)}
    assert not by_tag, (f"app images referenced by tag, not digest: {by_tag}; pin them to the "
                        f"digests the runtime resolved (see imageID in the evidence)")


def repository_of(image: str) -> str:
    """An image reference without its digest or tag."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)
    if ":" in last[-1]:
        name = name.rsplit(":", 1)[0]
    return name


@kubeproof.control("images.provenance")
def test_image_whose_digest_nobody_signed_is_refused(pod_security, app_admission,
                                                     compliant_admission, run_id, evidence):
    """Admission refuses, in the app namespace, a pod whose image digest carries no signature
    (beside the signed, pinned probe image it admits)."""
    digest = hashlib.sha256(f"kubeproof unsigned image {run_id}".encode()).hexdigest()
    unsigned = f"{repository_of(app_admission.image)}@sha256:{digest}"
    evidence.add("image", f"{unsigned}: a digest made up for this run, which no key has signed")
    admission = app_admission.admit(app_admission.manifest("kp-unsigned", ["true"],
                                                           image=unsigned))
    pod_security.expect_rejected(evidence, f"pod with an unsigned image in "
                                 f"{app_admission.namespace}", admission, "signature",
                                 app_admission.admission_guard)


@kubeproof.control("images.provenance")
def test_image_by_tag_is_refused(pod_security, app_admission, compliant_admission, evidence):
    """Admission refuses, in the app namespace, a pod that names the probe image's repository
    by a tag instead of a digest (beside the image by digest, which it admits)."""
    by_tag = f"{repository_of(app_admission.image)}:latest"
    evidence.add("image", f"{by_tag}: the probe image's repository by a tag, not a digest")
    admission = app_admission.admit(app_admission.manifest("kp-by-tag", ["true"], image=by_tag))
    pod_security.expect_rejected(evidence, f"pod with an image by tag in "
                                 f"{app_admission.namespace}", admission, "digest",
                                 app_admission.admission_guard)


@kubeproof.control("images.scanned")
def test_app_images_have_no_critical_vulnerabilities(app_containers, evidence):
    """App images have no known critical vulnerabilities (trivy's report attached)."""
    trivy = shutil.which("trivy")
    if trivy is None:
        pytest.skip("trivy is not on PATH: install it (https://trivy.dev, e.g. the release "
                    "binary or `apt install trivy`) to scan app images; configure its image "
                    "source and database with TRIVY_* environment variables")
    critical = {}
    for image in sorted({ac.container.image for ac in app_containers}):
        done = subprocess.run([trivy, "image", "--quiet", "--format", "json", "--scanners",
                               "vuln", "--severity", "CRITICAL", image],
                              capture_output=True, text=True, timeout=300)
        with evidence.canary(f"trivy scanned {image}"):
            assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-500:]}"
            report = json.loads(done.stdout)
        found = [f"{v['VulnerabilityID']} {v.get('PkgName')} {v.get('InstalledVersion')}"
                 for r in report.get("Results") or [] for v in r.get("Vulnerabilities") or []]
        evidence.add(f"trivy {image}", {"targets": [r.get("Target") for r in
                                                    report.get("Results") or []],
                                        "critical": found})
        if found:
            critical[image] = found
    assert not critical, f"critical vulnerabilities: {critical}"
