"""admission.pod-security: the PodSecurity plugin's configuration is found in the API server's
AdmissionConfiguration (inline or by path) and its exemptions judged."""

from __future__ import annotations

import pytest

from conftest import control_helper
from kubeproof.verdicts import Inconclusive

config = control_helper("cluster/admissionconfig.py")

ADMISSION = """
apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: EventRateLimit
  path: eventconfig.yaml
- name: PodSecurity
  configuration:
    apiVersion: pod-security.admission.config.k8s.io/v1
    kind: PodSecurityConfiguration
    defaults:
      enforce: baseline
    exemptions:
      usernames: [ci-bot]
      runtimeClasses: [kata]
      namespaces: [kube-system, default]
"""


def settings_of(text: str, path: str = "/etc/kubernetes/admission.yaml") -> dict:
    entry = config.plugin_entry(config.load_yaml(text, path), path)
    return config.pod_security_settings(entry["configuration"], path)


def test_psa_exemptions_inline_configuration():
    settings = settings_of(ADMISSION)
    assert settings["exemptions"] == {"usernames": ["ci-bot"], "runtimeClasses": ["kata"],
                                      "namespaces": ["kube-system", "default"]}
    assert settings["defaults"] == {**config.BUILT_IN_DEFAULTS, "enforce": "baseline"}


def test_psa_exemptions_each_bypass_is_named():
    found = config.bypasses(settings_of(ADMISSION)["exemptions"], "default")
    assert found == [
        "username ci-bot: pods this user creates bypass pod security in every namespace",
        "runtimeClass kata: pods of this runtime class bypass pod security in every namespace",
        "namespace default: the application namespace is exempt, so its enforce label is "
        "ignored"]


def test_psa_exemptions_of_system_namespaces_only_are_no_bypass():
    exemptions = {"usernames": [], "runtimeClasses": [], "namespaces": ["kube-system"]}
    assert config.bypasses(exemptions, "default") == []


def test_psa_exemptions_v1beta1_without_exemptions():
    settings = config.pod_security_settings(
        {"apiVersion": "pod-security.admission.config.k8s.io/v1beta1",
         "kind": "PodSecurityConfiguration"}, "psa.yaml")
    assert settings == {"defaults": config.BUILT_IN_DEFAULTS,
                        "exemptions": {"usernames": [], "runtimeClasses": [], "namespaces": []}}


@pytest.mark.parametrize(("path", "expected"), [
    ("podsecurity.yaml", "/etc/kubernetes/podsecurity.yaml"),
    ("../psa/podsecurity.yaml", "/etc/psa/podsecurity.yaml"),
    ("/srv/podsecurity.yaml", "/srv/podsecurity.yaml"),
])
def test_psa_exemptions_configuration_path_is_relative_to_the_admission_file(path, expected):
    entry = {"name": "PodSecurity", "path": path}
    assert config.configuration_path(entry, "/etc/kubernetes/admission.yaml") == expected


def test_psa_exemptions_inline_entry_has_no_path():
    entry = {"name": "PodSecurity", "configuration": {}}
    assert config.configuration_path(entry, "/etc/kubernetes/admission.yaml") is None


def test_psa_exemptions_no_pod_security_entry():
    text = "apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\nplugins: []\n"
    assert config.plugin_entry(config.load_yaml(text, "a.yaml"), "a.yaml") is None


@pytest.mark.parametrize(("text", "message"), [
    ("plugins: [", "not valid YAML"),
    ("- a list", "no YAML mapping"),
    ("kind: EncryptionConfiguration", "not an AdmissionConfiguration"),
])
def test_psa_exemptions_unreadable_admission_file_is_inconclusive(text, message):
    with pytest.raises(Inconclusive, match=message):
        config.plugin_entry(config.load_yaml(text, "a.yaml"), "a.yaml")


@pytest.mark.parametrize(("configuration", "message"), [
    (None, "no PodSecurityConfiguration"),
    ({"kind": "PodSecurityConfiguration", "apiVersion": "pod-security.admission.config.k8s.io"
                                                        "/v1alpha1"}, "apiVersion"),
])
def test_psa_exemptions_uninterpretable_configuration_is_inconclusive(configuration, message):
    with pytest.raises(Inconclusive, match=message):
        config.pod_security_settings(configuration, "psa.yaml")
