"""Control-plane flag checks, one test per FLAG row of the configuration table
(kubeproof.configtable): each reads the component's command line where the target shows it
and judges it by the row's rule."""

from __future__ import annotations

import pytest

import kubeproof
from kubeproof.configchecks import FLAG, ConfigCheck
from kubeproof.configtable import CONTROL_PLANE, rows


def _param(check: ConfigCheck):
    return pytest.param(check, id=check.id, marks=kubeproof.control(check.control))


@pytest.mark.parametrize("check", [_param(c) for c in rows((FLAG,), CONTROL_PLANE)])
def test_component_flag(component_flags, evidence, check: ConfigCheck):
    """A control-plane component's flags meet the row's rule (an absent flag is judged on the
    component's default, which the evidence names)."""
    flags = component_flags(check.component)
    if check.component == "etcd" and "config-file" in flags:
        raise kubeproof.Inconclusive(f"etcd reads --config-file={flags['config-file']} (it "
                                     f"then ignores its flags): kubeproof reads the config "
                                     f"file of an etcd host process, not of a static pod's")
    with evidence.canary(f"{check.component}'s command line was read"):
        assert len(flags) > 1, flags
    ok, seen = check.judge(check.flag_values(flags))
    evidence.add(f"{check.component} {' '.join('--' + f for f in check.keys)}", seen)
    assert ok, (f"{check.component} {seen}: expected {check.rule.expected()}. "
                f"{check.remediation}")
