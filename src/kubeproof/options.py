"""The kubeproof command-line options and ini settings, and their configure-time checks."""

from __future__ import annotations

from typing import Any

import pytest

from kubeproof import catalogue, gate, targets
from kubeproof.targets.base import FileIntegrity


def add_options(parser: pytest.Parser) -> None:
    """Register the kubeproof option group and ini settings."""
    group = parser.getgroup("kubeproof", "kubeproof: prove a cluster's security controls")
    group.addoption("--target", default=targets.DEFAULT, metavar="NAME",
                    help=f"where the cluster comes from: {', '.join(targets.names())} "
                         f"(default: {targets.DEFAULT})")
    group.addoption("--control", action="append", default=[], metavar="ID",
                    help="run only this control id (repeatable), e.g. seccomp.keyctl-denied")
    group.addoption("--list-controls", action="store_true",
                    help="print the control catalogue and exit")
    group.addoption("--kubeproof-json", metavar="PATH", default=None,
                    help="write machine-readable results (verdicts, evidence) to PATH")
    group.addoption("--waivers", metavar="PATH", default=None,
                    help="YAML waiver file: control, optional scope (namespace, node), "
                         "justification, approver, expires; see README")
    group.addoption("--oscal", metavar="PATH", default=None,
                    help="write an OSCAL assessment-results JSON document to PATH")
    group.addoption("--kubeproof-html", metavar="PATH", default=None,
                    help="write the auditor report (one self-contained HTML file, control by "
                         "control) to PATH")
    group.addoption("--kubeproof-pdf", metavar="PATH", default=None,
                    help="write the auditor report as PDF to PATH (needs headless Chromium)")
    group.addoption("--sarif", metavar="PATH", default=None,
                    help="write a SARIF 2.1.0 log (failing, inconclusive and waived tests) "
                         "to PATH")
    group.addoption("--hdf", metavar="PATH", default=None,
                    help="write MITRE Heimdall Data Format (InSpec exec JSON) to PATH")
    group.addoption("--compare", metavar="PREVIOUS.json", default=None,
                    help="say what changed since a previous --kubeproof-json file: controls "
                         "newly failing or passing, changed verdicts, waivers expiring within "
                         "30 days")
    group.addoption("--fail-on", metavar="LEVEL", default=gate.DEFAULT,
                    help="exit non-zero on: fail (failed or errored controls, stale or expired "
                         "waivers; default), error (errored controls only), never")
    group.addoption("--probe-timeout", type=float, default=60.0, metavar="SECONDS",
                    help="deadline for a probe pod to start or finish (default: 60)")
    group.addoption("--probe-image", default=None, metavar="IMAGE",
                    help="image for probe pods (default: kubeproof's probe image by digest, "
                         "see python -m kubeproof.probeimage)")
    group.addoption("--sweep-leftovers", action="store_true",
                    help="before the run, delete the namespaces and pods of every other run, "
                         "live ones too (dead runs' are always deleted)")
    # local target
    group.addoption("--keep-cluster", action="store_true",
                    help="local and terraform targets: keep the cluster after the run")
    group.addoption("--local-state-dir", metavar="PATH", default=None,
                    help="local target: where the reference cluster keeps its state")
    # existing target
    group.addoption("--kubeconfig", metavar="PATH", default=None,
                    help="existing target: kubeconfig (default: $KUBECONFIG or ~/.kube/config)")
    group.addoption("--context", metavar="NAME", default=None,
                    help="existing target: kubeconfig context (default: current-context)")
    group.addoption("--app-user", metavar="NAME", default=None,
                    help="existing target: the app user, impersonated by the admin context")
    group.addoption("--app-group", action="append", default=[], metavar="GROUP",
                    help="existing target: a group of the impersonated app user (repeatable)")
    group.addoption("--app-kubeconfig", metavar="PATH", default=None,
                    help="existing target: a kubeconfig holding the app user's own credentials")
    group.addoption("--app-context", metavar="NAME", default=None,
                    help="existing target: context of --app-kubeconfig (or of --kubeconfig)")
    group.addoption("--app-namespace", metavar="NAME", default="default",
                    help="existing target: the application namespace (default: default)")
    group.addoption("--node-access", choices=("ssh", "pod"), default=None,
                    help="existing target: how host controls reach the nodes: ssh (with "
                         "--ssh-host; the default when given) or pod (a short-lived privileged "
                         "pod per node, through the exec API; no SSH needed)")
    group.addoption("--ssh-host", action="append", default=[], metavar="HOST[:PORT]",
                    help="existing target: a node reachable over SSH (repeatable)")
    group.addoption("--ssh-user", metavar="NAME", default=None,
                    help="existing target: SSH user on the nodes (default: your user)")
    group.addoption("--ssh-key", metavar="PATH", default=None,
                    help="existing and terraform targets: SSH private key for the nodes "
                         "(terraform: default a key kubeproof makes once)")
    group.addoption("--ssh-known-hosts", metavar="PATH", default=None,
                    help="existing target: known_hosts with the nodes' keys "
                         "(default: ~/.ssh/known_hosts); unknown keys are refused")
    group.addoption("--node-runtime-endpoint", metavar="SOCKET", default=None,
                    help="existing target: for SSH nodes that run no kubelet (hosts prepared "
                         "for one), the container runtime socket the host controls judge, e.g. "
                         "unix:///run/containerd/containerd.sock (without it such a node is an "
                         "error)")
    group.addoption("--etcd-endpoint", metavar="URL", default=None,
                    help="existing target: etcd's client URL (https://HOST:2379), for "
                         "encryption.at-rest and etcd.isolated; with --etcd-ca/-cert/-key")
    group.addoption("--etcd-ca", metavar="PATH", default=None,
                    help="existing target: the CA that signs etcd's serving certificate")
    group.addoption("--etcd-cert", metavar="PATH", default=None,
                    help="existing target: an etcd client certificate (kubeadm: "
                         "/etc/kubernetes/pki/apiserver-etcd-client.crt)")
    group.addoption("--etcd-key", metavar="PATH", default=None,
                    help="existing target: the key of --etcd-cert")
    group.addoption("--admin-kubeconfig-on-node", action="append", default=[], metavar="PATH",
                    help="existing and in-cluster targets: where an administrative kubeconfig "
                         "sits on the control-plane nodes, besides kubeadm's "
                         "/etc/kubernetes/admin.conf and super-admin.conf, for CIS 1.1.13/14 "
                         "(repeatable)")
    group.addoption("--aide-config", metavar="PATH", default=FileIntegrity.aide_config,
                    help="existing and terraform targets: AIDE's config file on the nodes, "
                         "for host.hids (default: %(default)s)")
    group.addoption("--hids-canary", metavar="PATH", default=FileIntegrity.canary,
                    help="existing and terraform targets: a file in AIDE's scope on the nodes "
                         "that host.hids changes, has AIDE report, and puts back (default: "
                         "%(default)s)")
    # terraform target
    group.addoption("--tf-dir", metavar="PATH", default=None,
                    help="terraform target: the Terraform configuration (default: "
                         "provision/terraform of the kubeproof checkout)")
    group.addoption("--tf-workspace", metavar="NAME", default="staging",
                    help="terraform target: workspace = environment (staging, production; "
                         "default: staging)")
    group.addoption("--tf-var", action="append", default=[], metavar="NAME=VALUE",
                    help="terraform target: a Terraform variable (repeatable), e.g. "
                         "control_cidr=203.0.113.7/32")
    group.addoption("--tf-node-scripts", metavar="PATH", default=None,
                    help="terraform target: host-side scripts uploaded and run over SSH "
                         "(default: provision/node of the kubeproof checkout)")
    group.addoption("--ssh-host-key-fingerprint", metavar="SHA256:...", default=None,
                    help="terraform target: the node's SSH host key fingerprint, verified out "
                         "of band; without it the key must be in --ssh-known-hosts")
    group.addoption("--ssh-timeout", type=float, default=300.0, metavar="SECONDS",
                    help="terraform target: deadline for the node's sshd to answer (default: 300)")
    parser.addini("kubeproof_free_paths", type="linelist", default=[],
                  help="paths (relative to rootdir) whose tests are not controls and need no id")


def check_options(config: Any) -> None:
    """Configure-time checks: raise pytest.UsageError naming the allowed values."""
    target = config.getoption("target")
    if target not in targets.names():
        raise pytest.UsageError(
            f"unknown --target {target!r}: choose one of {', '.join(targets.names())}"
        )
    for control_id in config.getoption("control"):
        if not catalogue.exists(control_id):
            near = catalogue.nearest(control_id)
            hint = f"did you mean {', '.join(near)}?" if near else "no similar id"
            raise pytest.UsageError(
                f"unknown control id {control_id!r} (--control): {hint} "
                f"(pytest --list-controls prints them all)"
            )
    if config.getoption("fail_on") not in gate.FAIL_ON:
        raise pytest.UsageError(f"unknown --fail-on {config.getoption('fail_on')!r}: "
                                f"choose one of {', '.join(gate.FAIL_ON)}")
    if config.getoption("probe_timeout") <= 0:
        raise pytest.UsageError("--probe-timeout must be a positive number of seconds")
