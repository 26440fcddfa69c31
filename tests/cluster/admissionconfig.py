"""The PodSecurity admission plugin's configuration as the API server reads it through
--admission-control-config-file: the plugin's entry, its PodSecurityConfiguration, and the
exemptions that let pods bypass pod security."""

from __future__ import annotations

import posixpath
from typing import Any

import yaml

from kubeproof.verdicts import Inconclusive

PLUGIN = "PodSecurity"
CONFIGURATION_VERSIONS = ("pod-security.admission.config.k8s.io/v1",
                          "pod-security.admission.config.k8s.io/v1beta1")
# What the plugin does where no PodSecurityConfiguration sets anything.
BUILT_IN_DEFAULTS = {"enforce": "privileged", "enforce-version": "latest",
                     "audit": "privileged", "audit-version": "latest",
                     "warn": "privileged", "warn-version": "latest"}
EXEMPTION_KINDS = ("usernames", "runtimeClasses", "namespaces")


def load_yaml(text: str, source: str) -> dict[str, Any]:
    """A YAML file's top-level mapping; anything else is Inconclusive."""
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise Inconclusive(f"{source} is not valid YAML: {exc}") from exc
    if not isinstance(loaded, dict):
        raise Inconclusive(f"{source} holds no YAML mapping: {text[:200]!r}")
    return loaded


def plugin_entry(admission_config: dict[str, Any], source: str) -> dict[str, Any] | None:
    """The PodSecurity entry of an AdmissionConfiguration (None: it configures no PodSecurity,
    so the plugin runs with its built-in defaults); the API server uses the first entry."""
    if admission_config.get("kind") != "AdmissionConfiguration":
        raise Inconclusive(f"{source} is not an AdmissionConfiguration "
                           f"(kind {admission_config.get('kind')!r})")
    for plugin in admission_config.get("plugins") or []:
        if isinstance(plugin, dict) and plugin.get("name") == PLUGIN:
            return plugin
    return None


def configuration_path(entry: dict[str, Any], admission_path: str) -> str | None:
    """The file an entry reads its configuration from (None: it is inline); a relative path
    is relative to the AdmissionConfiguration's directory, as the API server resolves it."""
    path = entry.get("path")
    if not path:
        return None
    return posixpath.normpath(posixpath.join(posixpath.dirname(admission_path), path))


def pod_security_settings(config: Any, source: str) -> dict[str, dict[str, Any]]:
    """{"defaults": ..., "exemptions": ...} of a PodSecurityConfiguration (unset defaults
    filled in with the built-in ones); one kubeproof cannot interpret is Inconclusive."""
    if not isinstance(config, dict) or config.get("kind") != "PodSecurityConfiguration":
        raise Inconclusive(f"{source} holds no PodSecurityConfiguration: {config!r:.200}")
    if config.get("apiVersion") not in CONFIGURATION_VERSIONS:
        raise Inconclusive(f"{source}: PodSecurityConfiguration apiVersion "
                           f"{config.get('apiVersion')!r} is none of {CONFIGURATION_VERSIONS}")
    exemptions = config.get("exemptions") or {}
    return {"defaults": {**BUILT_IN_DEFAULTS, **(config.get("defaults") or {})},
            "exemptions": {kind: list(exemptions.get(kind) or []) for kind in EXEMPTION_KINDS}}


def bypasses(exemptions: dict[str, list[str]], app_namespace: str) -> list[str]:
    """The exemptions that let pods bypass pod security: every exempted user and runtime class
    (in every namespace), and the application namespace."""
    found = [f"username {user}: pods this user creates bypass pod security in every namespace"
             for user in exemptions.get("usernames") or []]
    found += [f"runtimeClass {name}: pods of this runtime class bypass pod security in every "
              f"namespace" for name in exemptions.get("runtimeClasses") or []]
    if app_namespace in (exemptions.get("namespaces") or []):
        found.append(f"namespace {app_namespace}: the application namespace is exempt, so its "
                     f"enforce label is ignored")
    return found
