"""host.hids: a host IDS / file integrity tool with a database, or a runtime detector."""

from __future__ import annotations

import nodefacts

import kubeproof
from kubeproof import nodeprocesses

pytestmark = kubeproof.control("host.hids")

# File integrity tools: (name, binaries, databases it must have initialised).
INTEGRITY_TOOLS = [
    ("AIDE", ["/usr/bin/aide", "/usr/sbin/aide", "/usr/local/bin/aide"],
     ["/var/lib/aide/aide.db", "/var/lib/aide/aide.db.gz"]),
    ("OSSEC/Wazuh", ["/var/ossec/bin/ossec-control", "/var/ossec/bin/wazuh-control"],
     ["/var/ossec/queue/syscheck", "/var/ossec/queue/fim/db/fim.db"]),
    ("Tripwire", ["/usr/sbin/tripwire", "/usr/local/sbin/tripwire"], ["/var/lib/tripwire"]),
]
# Runtime detectors: process names.
DETECTORS = ["falco", "tracee", "tracee-ebpf"]


def _integrity_tools(host, evidence) -> list[str]:
    found = []
    present = set(nodefacts.existing(host, [p for _, binaries, databases in INTEGRITY_TOOLS
                                            for p in binaries + databases]))
    for name, binaries, databases in INTEGRITY_TOOLS:
        installed = [b for b in binaries if b in present]
        dbs = [d for d in databases if d in present]
        if installed or dbs:
            evidence.add(name, {"binaries": installed, "databases": dbs})
        if installed and dbs:
            found.append(f"{name} ({installed[0]}, database {dbs[0]})")
    return found


def test_host_ids_or_runtime_detector_is_present(host, evidence):
    """A host IDS or file integrity tool with a database, or a runtime detector, is on the
    node."""
    with evidence.canary("the node's processes are visible (pid 1 is listed)"):
        init = nodeprocesses.command_line(host, 1)
        assert init, "pid 1 has an empty command line"
        evidence.add("pid 1", nodefacts.process_evidence(1, init))
    found = _integrity_tools(host, evidence)
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
