"""host.hids: a host IDS / file integrity tool with a database, or a runtime detector; and for
AIDE, proof that it reports a changed file in its scope."""

from __future__ import annotations

import contextlib
import re

import nodefacts
import pytest

import kubeproof
from kubeproof import nodeprocesses
from kubeproof.verdicts import Inconclusive

pytestmark = kubeproof.control("host.hids")

AIDE_BINARIES = ["/usr/bin/aide", "/usr/sbin/aide", "/usr/local/bin/aide"]
# File integrity tools: (name, binaries, databases it must have initialised).
INTEGRITY_TOOLS = [
    ("AIDE", AIDE_BINARIES, ["/var/lib/aide/aide.db", "/var/lib/aide/aide.db.gz"]),
    ("OSSEC/Wazuh", ["/var/ossec/bin/ossec-control", "/var/ossec/bin/wazuh-control"],
     ["/var/ossec/queue/syscheck", "/var/ossec/queue/fim/db/fim.db"]),
    ("Tripwire", ["/usr/sbin/tripwire", "/usr/local/sbin/tripwire"], ["/var/lib/tripwire"]),
]
# Runtime detectors: process names.
DETECTORS = ["falco", "tracee", "tracee-ebpf"]
# aide's exit codes: bits 1, 2, 4 for added, removed, changed entries; 14 and up are errors.
AIDE_CHANGED = 4
AIDE_ERRORS = 14
# How long a run waits for another run on the same node to put the canary back.
LOCK_WAIT_SECONDS = 60
# mkdir the lock beside the canary, polling every 0.5 s up to the deadline; a lock left by a
# killed run (older than 3 min) is taken over. Exit 1: still held; 2: cannot be made at all.
LOCK_SCRIPT = ('i=0; while ! mkdir -- "$1" 2>/dev/null; do '
               '[ -d "$1" ] || { mkdir -- "$1"; exit 2; }; '
               'find "$1" -maxdepth 0 -mmin +3 -exec rmdir {} \\; ; '
               'i=$((i+1)); [ "$i" -gt "$2" ] && exit 1; sleep 0.5; done')


def _aide_databases(config_text: str | None, key: str = "database_in") -> list[str]:
    """The database files an AIDE config names (KEY=file:PATH); none without a config."""
    return re.findall(rf"^\s*{key}\s*=\s*file:(\S+)", config_text or "", re.M)


def _integrity_tools(host, cluster, evidence) -> list[str]:
    found = []
    configured = _aide_databases(nodefacts.read(host, cluster.file_integrity.aide_config))
    tools = [(name, binaries, databases + configured if name == "AIDE" else databases)
             for name, binaries, databases in INTEGRITY_TOOLS]
    present = set(nodefacts.existing(host, [p for _, binaries, databases in tools
                                            for p in binaries + databases]))
    for name, binaries, databases in tools:
        installed = [b for b in binaries if b in present]
        dbs = [d for d in databases if d in present]
        if installed or dbs:
            evidence.add(name, {"binaries": installed, "databases": dbs})
        if installed and dbs:
            found.append(f"{name} ({installed[0]}, database {dbs[0]})")
    return found


def test_host_ids_or_runtime_detector_is_present(host, cluster, evidence):
    """A host IDS or file integrity tool with a database, or a runtime detector, is on the
    node."""
    with evidence.canary("the node's processes are visible (pid 1 is listed)"):
        init = nodeprocesses.command_line(host, 1)
        assert init, "pid 1 has an empty command line"
        evidence.add("pid 1", nodefacts.process_evidence(1, init))
    found = _integrity_tools(host, cluster, evidence)
    for name in DETECTORS:
        pids = [pid for pid, _ in nodeprocesses.processes(host, name)]
        if pids:
            evidence.add(f"{name} processes", pids)
            found.append(f"{name} running (pids {pids})")
    evidence.add("found", found)
    assert found, (
        "no host IDS with a database (AIDE, OSSEC/Wazuh, Tripwire) and no runtime detector "
        f"process ({', '.join(DETECTORS)}) on the node; looked for "
        f"{[(n, b, d) for n, b, d in INTEGRITY_TOOLS]}")


def _read_only_hint(stderr: str) -> str:
    """What to do when a write failed because node pods mount the host read-only."""
    return (" (node pods mount the host read-only: give SSH node access to prove detection)"
            if "Read-only file system" in stderr else "")


@contextlib.contextmanager
def _canary_held(host, canary: str):
    """The canary to this run alone: concurrent runs on one node change it one at a time (a
    lock directory beside it)."""
    lock = f"{canary}.kubeproof-lock"
    held = nodeprocesses.run(host, "sh -c %s _ %s %s", LOCK_SCRIPT, lock,
                             str(LOCK_WAIT_SECONDS * 2))
    if held.rc == 2:
        raise Inconclusive(f"cannot make the lock {lock} beside the canary: "
                           f"{held.stderr.strip()}{_read_only_hint(held.stderr)}")
    if held.rc == 1:
        raise Inconclusive(f"another kubeproof run has held the canary {canary} for "
                           f"{LOCK_WAIT_SECONDS} s ({lock}): run again when it is done")
    if held.rc != 0:
        raise Inconclusive(f"cannot take the lock {lock} (exit {held.rc}): "
                           f"{held.stderr.strip()}")
    try:
        yield
    finally:
        nodeprocesses.run(host, "rmdir -- %s", lock)


def _aide_check(host, aide: str, config: str, canary: str):
    """`aide --check` limited to the canary file."""
    return nodeprocesses.run(host, "%s --config %s --check --limit %s", aide, config,
                             f"^{re.escape(canary)}$")


def _update_database(host, aide: str, config: str, canary: str) -> str:
    """Update AIDE's entry of the canary (aide --update, then its output database over its
    input one); what was done."""
    updated = nodeprocesses.run(host, "%s --config %s --update --limit %s", aide, config,
                                f"^{re.escape(canary)}$")
    text = nodefacts.read(host, config)
    into, out = _aide_databases(text), _aide_databases(text, "database_out")
    if updated.rc >= AIDE_ERRORS or not into or not out:
        return (f"not updated (aide --update exit {updated.rc}; database_in {into}, "
                f"database_out {out}): run aide --update on the node")
    moved = nodeprocesses.run(host, "mv -f -- %s %s", out[0], into[0])
    return f"canary entry updated: {out[0]} -> {into[0]}" if moved.rc == 0 else \
        f"aide --update wrote {out[0]}, but moving it failed: {moved.stderr.strip()}"


def test_aide_reports_a_changed_file_in_its_scope(host, cluster, evidence, run_id):
    """AIDE reports a change to a file it watches: kubeproof appends a line to the canary file
    in AIDE's scope, `aide --check` (limited to that file) must report it changed; the file
    is then put back and AIDE finds it unchanged again."""
    config, canary = cluster.file_integrity.aide_config, cluster.file_integrity.canary
    installed = nodefacts.existing(host, AIDE_BINARIES)
    if not installed:
        pytest.skip("AIDE is not on the node: kubeproof proves detection for AIDE only (the "
                    "presence check judges the other tools)")
    aide = installed[0]
    present = nodefacts.existing(host, [config, canary])
    for path, what in ((config, "--aide-config"), (canary, "--hids-canary")):
        if path not in present:
            raise Inconclusive(f"{path} is not on the node ({what}): give AIDE's config, and "
                               f"a file in its scope that kubeproof may change and put back "
                               f"(create it, then re-initialise AIDE's database)")
    scope = nodeprocesses.run(host, "%s --config %s --path-check %s", aide, config,
                              f"f:{canary}")
    evidence.add(f"aide --path-check f:{canary}", scope.stdout.strip() or scope.stderr.strip())
    if scope.rc != 0:
        raise Inconclusive(f"the canary {canary} is not in AIDE's scope ({config}): "
                           f"{scope.stdout.strip() or scope.stderr.strip()}")
    with _canary_held(host, canary):
        before = _aide_check(host, aide, config, canary)
        evidence.add("aide --check on the canary, before", f"exit {before.rc}")
        if before.rc >= AIDE_ERRORS and "database" in before.stdout + before.stderr:
            pytest.fail(f"AIDE cannot read its database (exit {before.rc}): "
                        f"{(before.stderr or before.stdout).strip()[:300]}")
        with evidence.canary(f"AIDE's database holds the canary {canary} unchanged"):
            assert before.rc == 0, (f"aide --check on the canary before kubeproof changed it: "
                                    f"exit {before.rc} (run aide --update if it was changed): "
                                    f"{(before.stderr or before.stdout).strip()[:300]}")
        backup = f"{canary}.kubeproof-{run_id}"
        copied = nodeprocesses.run(host, "cp -p -- %s %s", canary, backup)
        if copied.rc != 0:
            raise Inconclusive(f"cannot keep a copy of the canary: {copied.stderr.strip()}"
                               f"{_read_only_hint(copied.stderr)}")
        try:
            changed = nodeprocesses.run(host, "echo %s >> %s", f"changed by kubeproof run {run_id}",
                                        canary)
            if changed.rc != 0:
                raise Inconclusive(f"cannot change the canary {canary}: {changed.stderr.strip()}")
            after = _aide_check(host, aide, config, canary)
            reported = [line.strip() for line in after.stdout.splitlines()
                        if line.rstrip().endswith(f": {canary}")]
            evidence.add("aide --check on the canary, after kubeproof appended a line",
                         {"exit": after.rc, "reported": reported})
        finally:
            restored = nodeprocesses.run(host, "cat -- %s > %s && rm -f -- %s", backup, canary,
                                         backup)
            again = _aide_check(host, aide, config, canary)
            evidence.add("aide --check on the canary, put back", f"exit {again.rc}" + (
                "" if restored.rc == 0 else f"; restoring failed: {restored.stderr.strip()}"))
            if again.rc & AIDE_CHANGED:  # its rule compares times too: update the database
                evidence.add("AIDE database", _update_database(host, aide, config, canary))
    assert after.rc < AIDE_ERRORS and after.rc & AIDE_CHANGED and reported, (
        f"AIDE did not report the changed canary {canary} (exit {after.rc}): its rule for it "
        f"does not compare content")
