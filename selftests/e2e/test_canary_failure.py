"""A control never passes on missing evidence: when its canary fails, the verdict is error.

The RBAC denial controls run through the existing target against the local cluster's admin
kubeconfig, impersonating an app user that has no rights anywhere: every denial they see is
real, but the canary (the same user lists pods in its own namespace) fails too, so the
denials prove nothing and each test must end in error, never pass or fail.
"""

from __future__ import annotations

from suite import run_suite

from kubeproof.localcluster import layout as L

NOBODY = "kubeproof-selftest-nobody"
CONTROLS = ("rbac.app-user-denied-kube-system", "rbac.app-user-denied-istio-system")


def test_failed_canary_makes_denial_controls_error_not_pass(local_cluster):
    results = run_suite(
        "--target=existing",
        f"--kubeconfig={local_cluster.layout.admin_kubeconfig}",
        f"--app-user={NOBODY}", f"--app-namespace={L.APP_NAMESPACE}",
        *[f"--control={c}" for c in CONTROLS], workers=0)
    tests = [t for t in results.tests if t["control"] in CONTROLS]
    assert {t["control"] for t in tests} == set(CONTROLS), \
        f"controls not run:\n{results.output[-3000:]}"
    wrong = [f"{t['nodeid']}: {t['verdict']} ({t['reason']})" for t in tests
             if t["verdict"] != "error" or "canary failed" not in t["reason"]]
    assert not wrong, "with a failing canary every test must be error:\n" + "\n".join(wrong)
    verdicts = {c: v for c, v in results.verdicts.items() if c in CONTROLS}
    assert set(verdicts.values()) == {"error"}, verdicts
