"""A host check proven on the local cluster's node counts as proven on any node."""

from kubeproof import proof

SELINUX = "tests/host/test_selinux.py::test_selinux_enforcing"
MAC = "tests/host/test_mac.py::test_exactly_one_mac_system_is_in_use"


def test_host_check_is_proven_whatever_the_node_is_called():
    assert proof.is_proven(f"{SELINUX}[kubeproof-node-loaded]")
    assert proof.is_proven(f"{SELINUX}[127.0.0.1-loaded]")
    assert proof.is_proven(f"{MAC}[worker-1.example]")


def test_other_aspects_and_tests_are_not_taken_for_proven_ones():
    assert not proof.is_proven(f"{SELINUX}[127.0.0.1-loaded-twice]")
    assert not proof.is_proven(f"{SELINUX}[-loaded]")  # no node name
    assert not proof.is_proven("tests/host/test_os.py::test_node_runs_an_immutable_os"
                               "[127.0.0.1-os-release]")
    assert not proof.is_proven("tests/cluster/test_rbac.py::test_app_user_cannot_read_pods_"
                               "in_kube_system[other]")
