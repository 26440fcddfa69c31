"""Pod security weakenings: the app namespace's admission, and the app's own pod spec."""

from __future__ import annotations

from mutants.base import NS, Mutant, container_patch, kubectl_steps, patch_app
from mutants.components import config_files

WORKLOAD = "tests/workloads/test_workload.py::"
NONROOT = "tests/workloads/test_nonroot.py::"
PODSECURITY = "tests/workloads/test_podsecurity.py::"
ADMISSION = "tests/cluster/test_admission.py::test_app_namespace_enforces_pod_security"

# The API server's PodSecurity plugin told to exempt the app namespace.
EXEMPT_APP_NAMESPACE = f"""apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
  - name: PodSecurity
    configuration:
      apiVersion: pod-security.admission.config.k8s.io/v1
      kind: PodSecurityConfiguration
      defaults: {{enforce: privileged, audit: privileged, warn: privileged}}
      exemptions: {{usernames: [], runtimeClasses: [], namespaces: [{NS}]}}
"""

MUTANTS = (
    Mutant(
        "app namespace without PSA enforce",
        (ADMISSION, PODSECURITY + "*", NONROOT + "test_pod_asking_for_uid_0_is_rejected[*]"),
        *kubectl_steps([["label", "namespace", NS, "pod-security.kubernetes.io/enforce-",
                         "pod-security.kubernetes.io/enforce-version-"]], []),
    ),
    Mutant(
        "API server's PodSecurity configuration exempts the app namespace",
        (ADMISSION, PODSECURITY + "test_privileged_and_host_pods_are_rejected[*]",
         NONROOT + "test_pod_asking_for_uid_0_is_rejected[*]"),
        *config_files({"admission.yaml": (EXEMPT_APP_NAMESPACE,
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
        "app mounts its service account token",
        (WORKLOAD + "test_app_pods_do_not_mount_a_service_account_token",),
        *patch_app({"spec": {"template": {"spec": {"automountServiceAccountToken": True}}}},
                   relax_psa=False),
    ),
)
