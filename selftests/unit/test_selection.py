"""Controls are declared once, tagged from the catalogue, and selected by marker or --control."""

from __future__ import annotations

import pytest

TESTS = """
import pytest
import kubeproof

@kubeproof.control("seccomp.keyctl-denied")
@pytest.mark.parametrize("profile", ["RuntimeDefault", "unset"])
def test_keyctl(profile, evidence):
    evidence.add("profile", profile)

@kubeproof.control("rbac.app-user-denied-kube-system")
def test_kube_system(evidence):
    evidence.add("x", 1)

@kubeproof.control("host.kubelet-hardening")
def test_kubelet(evidence):
    evidence.add("x", 1)
"""

MODULE_MARK = """
import kubeproof

pytestmark = kubeproof.control("netpol.enforced")

def test_one(evidence):
    evidence.add("x", 1)
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(test_controls=TESTS, test_module_mark=MODULE_MARK)
    return pytester


def collected(result: pytest.RunResult) -> list[str]:
    return sorted(line for line in result.outlines if "::" in line)


def test_marker_selects_an_area(suite):
    result = suite.runpytest("--collect-only", "-q", "-m", "seccomp")
    assert collected(result) == [
        "test_controls.py::test_keyctl[RuntimeDefault]", "test_controls.py::test_keyctl[unset]"]


@pytest.mark.parametrize(("marker", "expected"), [
    ("seed", 3), ("acceptance", 5), ("item1", 1), ("item2", 2), ("item9", 1), ("netpol", 1),
    ("rbac and seed", 1), ("host", 1),
])
def test_generated_markers(suite, marker, expected):
    result = suite.runpytest("--collect-only", "-q", "-m", marker, "--strict-markers")
    assert len(collected(result)) == expected, result.outlines


def test_control_option_selects_exactly_one_control(suite):
    result = suite.runpytest("-q", "--control", "rbac.app-user-denied-kube-system")
    result.assert_outcomes(passed=1, deselected=4)


def test_control_option_is_repeatable(suite):
    result = suite.runpytest("-q", "--control", "netpol.enforced", "--control",
                             "host.kubelet-hardening")
    result.assert_outcomes(passed=2, deselected=3)


def test_unknown_control_option_lists_nearest_ids(suite):
    result = suite.runpytest("--control", "rbac.app-user-denied-kube")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: unknown control id 'rbac.app-user-denied-kube' "
                                 "(--control): did you mean rbac.app-user-denied-kube-system*"])


def test_test_without_control_is_refused(pytester):
    pytester.makepyfile(test_x="def test_forgot():\n    pass\n")
    result = pytester.runpytest("--collect-only")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: collection refused: test_x.py::test_forgot declares no "
                                 "control (add @kubeproof.control('area.name'))"])


def test_unknown_control_id_in_a_test_is_refused(pytester):
    pytester.makepyfile(test_x="import kubeproof\n\n"
                               "@kubeproof.control('seccomp.keyctl')\n"
                               "def test_typo():\n    pass\n")
    result = pytester.runpytest("--collect-only")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: collection refused: test_x.py::test_typo has unknown "
                                 "control id 'seccomp.keyctl' (did you mean "
                                 "seccomp.keyctl-denied*"])


def test_free_paths_need_no_control(pytester):
    pytester.makeini("[pytest]\nkubeproof_free_paths = helpers\n")
    pytester.mkdir("helpers")
    pytester.path.joinpath("helpers", "test_h.py").write_text("def test_h():\n    pass\n")
    pytester.runpytest("helpers").assert_outcomes(passed=1)


def test_untested_controls_are_listed(suite):
    result = suite.runpytest("--collect-only", "-v")
    result.stdout.fnmatch_lines(["46 catalogue controls have no test yet: host.selinux-enforcing*"])


def test_list_controls(pytester):
    result = pytester.runpytest("--list-controls")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["seccomp.keyctl-denied * item 6 * probe * seed *"])
