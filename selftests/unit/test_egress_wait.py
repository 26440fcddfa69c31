"""The egress probe's wait: it ends only once the registered host answers while the barrier is
refused (the pod's own policy in force), and says so; the script runs under a real sh with a
stand-in curl that plays an enforcer which admits the pod before it filters it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import control_helper

egressprobe = control_helper("egress/egressprobe.py")

REGISTERED, BARRIER = "http://registered.test/", "http://192.0.2.9/"

# A curl that answers from a schedule: call number N (counted in a file) of a URL gets the body
# the schedule gives it, or fails like a refused connection.
FAKE_CURL = r"""#!/bin/sh
out=; for a in "$@"; do prev=$last; last=$a; [ "$prev" = -o ] && out=$a; done
url=$last
n=$(cat "$STATE/$(echo "$url" | tr -c 'a-z0-9' _)" 2>/dev/null || echo 0); n=$((n + 1))
echo $n > "$STATE/$(echo "$url" | tr -c 'a-z0-9' _)"
case "$url" in
  *registered*) open=$REGISTERED_OPEN ;;
  *) open=$BARRIER_OPEN ;;
esac
# open is "first-last" (1-based call numbers the URL answers on; empty: never)
first=${open%-*}; last=${open#*-}
if [ -n "$open" ] && [ $n -ge $first ] && { [ "$last" = x ] || [ $n -le $last ]; }; then
  echo "body of $url" > "$out"; exit 0
fi
exit 7
"""


def run_wait(tmp_path: Path, registered_open: str, barrier_open: str, barrier: str = BARRIER,
             deadline: float = 6, grace: float = 1) -> str:
    """The wait script's output, with the stand-in curl first on PATH."""
    bin_dir, state = tmp_path / "bin", tmp_path / "state"
    bin_dir.mkdir()
    state.mkdir()
    (bin_dir / "curl").write_text(FAKE_CURL)
    (bin_dir / "curl").chmod(0o755)
    text = egressprobe.script([], wait_for=REGISTERED, body=f"body of {REGISTERED}",
                              barrier=barrier, barrier_body=f"body of {BARRIER}",
                              deadline=deadline, barrier_grace=grace)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "STATE": str(state),
           "REGISTERED_OPEN": registered_open, "BARRIER_OPEN": barrier_open, "CA_PEM": ""}
    return subprocess.run(["sh", "-c", text], env=env, capture_output=True, text=True,
                          timeout=30, check=True).stdout


def test_wait_goes_on_once_the_barrier_is_refused(tmp_path):
    # The pod is unfiltered for its first two rounds (the barrier answers), then filtered.
    log = run_wait(tmp_path, registered_open="1-x", barrier_open="1-2", deadline=30, grace=20)
    assert egressprobe.enforcement(log) == "yes"
    assert egressprobe.polls(log) == 3


def test_wait_does_not_take_an_unfiltered_moment_for_success(tmp_path):
    # What broke CI: the registered host answered only while the pod was not yet filtered
    # (its DNS policy deleted); the wait must not end there, so the attempts see the refusal.
    log = run_wait(tmp_path, registered_open="1-1", barrier_open="1-1", deadline=3)
    assert egressprobe.enforcement(log) == "no"
    assert egressprobe.polls(log) > 1


def test_wait_ends_after_the_grace_when_nothing_is_enforced(tmp_path):
    log = run_wait(tmp_path, registered_open="1-x", barrier_open="1-x", deadline=20, grace=1)
    assert egressprobe.enforcement(log) == "no"
    assert egressprobe.polls(log) < 10  # ended by the grace, not by the 20 s deadline


def test_wait_that_never_got_an_answer_says_so(tmp_path):
    log = run_wait(tmp_path, registered_open="", barrier_open="", deadline=2)
    assert egressprobe.enforcement(log) == "noanswer"


def test_wait_without_a_barrier_ends_at_the_first_answer(tmp_path):
    log = run_wait(tmp_path, registered_open="2-x", barrier_open="", barrier="")
    assert egressprobe.enforcement(log) == "unknown"
    assert egressprobe.polls(log) == 2


@pytest.mark.parametrize(("log", "expected"), [("waited=4\nenforced=yes\n", ("yes", 4)),
                                               ("no wait here\n", (None, None))])
def test_wait_result_is_read_from_the_log(log, expected):
    assert (egressprobe.enforcement(log), egressprobe.polls(log)) == expected
