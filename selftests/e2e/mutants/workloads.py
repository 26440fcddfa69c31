"""Pod security weakenings: the app namespace's admission (pod security, the image policy), and
the app's own pod spec and image."""

from __future__ import annotations

from pathlib import Path

import yaml

from kubeproof.localcluster import imagepolicy
from kubeproof.localcluster.cluster import LocalCluster
from mutants.base import NS, Mutant, Step, container_patch, create_steps, kubectl_steps, patch_app
from mutants.components import config_files

WORKLOAD = "tests/workloads/test_workload.py::"
NONROOT = "tests/workloads/test_nonroot.py::"
PODSECURITY = "tests/workloads/test_podsecurity.py::"
ADMISSION = "tests/cluster/test_admission.py::"
IMAGES = "tests/workloads/test_images.py::"

# The API server's PodSecurity plugin told to exempt the app namespace.
PSA_EXEMPTING_THE_APP = {
    "name": "PodSecurity",
    "configuration": {
        "apiVersion": "pod-security.admission.config.k8s.io/v1",
        "kind": "PodSecurityConfiguration",
        "defaults": {"enforce": "privileged", "audit": "privileged", "warn": "privileged"},
        "exemptions": {"usernames": [], "runtimeClasses": [], "namespaces": [NS]}}}


def exempt_app_namespace(c: LocalCluster) -> str:
    """The cluster's admission configuration (the other plugins' settings kept) with the
    PodSecurity entry above."""
    config = yaml.safe_load((c.layout.config / "admission.yaml").read_text())
    config["plugins"] = [p for p in config["plugins"] if p["name"] != "PodSecurity"]
    config["plugins"].append(PSA_EXEMPTING_THE_APP)
    return yaml.safe_dump(config, sort_keys=False)


UNLISTED_REGISTRY = "untrusted.example"  # a reserved name: nothing is ever pulled from it


def pegress_archive(c: LocalCluster) -> Path:
    """The app image's archive."""
    return next(a for a in c.components.pinned_images if imagepolicy.name_of(a) == "pegress")


def app_image_from_unlisted_registry() -> tuple[Step, Step]:
    """The app's own image, named in containerd under a registry the image policy does not
    list (still by its signed digest), and the app Deployment switched to it (nothing is
    pulled: the image is present)."""

    def image(c: LocalCluster, registry: str) -> str:
        return imagepolicy.pinned(pegress_archive(c)).replace("kubeproof.local", registry, 1)

    def apply(c: LocalCluster) -> None:
        c.ctr("images", "tag", "--force", imagepolicy.tagged(pegress_archive(c)),
              image(c, UNLISTED_REGISTRY))
        switch, _ = patch_app([{"op": "replace",
                                "path": "/spec/template/spec/containers/0/image",
                                "value": image(c, UNLISTED_REGISTRY)}], relax_psa=False)
        switch(c)

    def revert(c: LocalCluster) -> None:
        _, roll_back = patch_app([], relax_psa=False)
        roll_back(c)
        c.ctr("images", "rm", image(c, UNLISTED_REGISTRY))

    return apply, revert


def image_policy_removed() -> tuple[Step, Step]:
    """The image policy's validating webhook deleted; revert re-applies it and waits until
    policy-controller has filled it in again."""

    def apply(c: LocalCluster) -> None:
        c.kubectl("delete", "validatingwebhookconfiguration", imagepolicy.WEBHOOK)

    def revert(c: LocalCluster) -> None:
        c.apply_manifests()
        c.wait_for_image_policy()

    return apply, revert


def app_image_by_tag() -> tuple[Step, Step]:
    """The app namespace opted out of the image policy (the policy would refuse the change)
    and the app Deployment switched to its image's tag; revert rolls back and opts in again."""

    def apply(c: LocalCluster) -> None:
        c.kubectl("label", "namespace", NS, f"{imagepolicy.OPT_IN_LABEL}-")
        switch, _ = patch_app([{"op": "replace", "path": "/spec/template/spec/containers/0/image",
                                "value": imagepolicy.tagged(pegress_archive(c))}],
                              relax_psa=False)
        switch(c)

    _, revert = patch_app([], relax_psa=False)
    return apply, revert


MUTANTS = (
    Mutant(
        "app namespace without PSA enforce",
        (ADMISSION + "test_app_namespace_enforces_pod_security", PODSECURITY + "*",
         NONROOT + "test_pod_asking_for_uid_0_is_rejected[*]"),
        *kubectl_steps([["label", "namespace", NS, "pod-security.kubernetes.io/enforce-",
                         "pod-security.kubernetes.io/enforce-version-"]], []),
    ),
    Mutant(
        "API server's PodSecurity configuration exempts the app namespace",
        (ADMISSION + "test_pod_security_plugin_exempts_nothing",
         PODSECURITY + "test_privileged_and_host_pods_are_rejected[*]",
         NONROOT + "test_pod_asking_for_uid_0_is_rejected[*]"),
        *config_files({"admission.yaml": (exempt_app_namespace,
                                          "admission-control-config-file")}),
    ),
    Mutant(
        "app runs as root",
        (NONROOT + "test_app_containers_declare_a_non_root_uid",
         NONROOT + "test_app_containers_really_run_as_non_root"),
        *patch_app({"spec": {"template": {"spec": {"securityContext": {
            "runAsNonRoot": False, "runAsUser": 0}}}}}),
    ),
    Mutant(
        "app may escalate privileges",
        (WORKLOAD + "test_app_containers_declare_no_privilege_escalation",
         WORKLOAD + "test_app_processes_run_without_privileges"),
        *patch_app(container_patch(allowPrivilegeEscalation=True,
                                   capabilities={"add": ["NET_ADMIN"]})),
    ),
    Mutant(
        "app root filesystem writable",
        (WORKLOAD + "test_app_containers_cannot_write_their_root_filesystem",
         WORKLOAD + "test_app_security_context_gives_a_read_only_root"),
        *patch_app(container_patch(readOnlyRootFilesystem=False)),
    ),
    Mutant(
        "app mounts its service account token and takes a secret in its environment",
        (WORKLOAD + "test_app_pods_do_not_mount_a_service_account_token",
         WORKLOAD + "test_app_containers_take_no_secret_from_their_environment"),
        *patch_app({"spec": {"template": {"spec": {
            "automountServiceAccountToken": True,
            "containers": [{"name": "pegress", "env": [{"name": "KUBEPROOF_MUTANT_TOKEN",
                                                        "valueFrom": {"secretKeyRef": {
                                                            "name": "kubeproof-mutant",
                                                            "key": "token",
                                                            "optional": True}}}]}]}}}},
                   relax_psa=False),
    ),
    Mutant(
        "app image from a registry the image policy does not list",
        (IMAGES + "test_app_images_come_from_allowed_registries",),
        *app_image_from_unlisted_registry(),
    ),
    Mutant(
        "image policy webhook removed",
        (IMAGES + "test_image_whose_digest_nobody_signed_is_refused",
         IMAGES + "test_image_by_tag_is_refused"),
        *image_policy_removed(),
    ),
    Mutant(
        "app namespace out of the image policy, its Deployment naming the image by tag",
        (IMAGES + "test_app_images_are_pinned_by_digest",
         IMAGES + "test_image_whose_digest_nobody_signed_is_refused",
         IMAGES + "test_image_by_tag_is_refused",
         "tests/workloads/test_static.py::test_manifests_pass_checkov"),
        *app_image_by_tag(),
    ),
    Mutant(
        "a ConfigMap kept in the default namespace",
        ("tests/workloads/test_namespaces.py::test_default_namespace_holds_only_what_the_"
         "cluster_puts_there",),
        *create_steps({"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": "kubeproof-mutant", "namespace": "default"},
                       "data": {"note": "kept in default"}}),
    ),
)
