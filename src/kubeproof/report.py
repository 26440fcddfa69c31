"""Reports: control metadata on test items, verdicts collected per test, HTML columns, the
JSON results file and the terminal summary by checklist item. The document's schema is
docs/report-schema.md; the HTML summary is in htmlsummary.py, OSCAL in oscal.py."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from kubeproof import catalogue, cis, proof
from kubeproof.catalogue import Control
from kubeproof.redact import redact, redact_text
from kubeproof.verdicts import Verdict, control_verdict

PREFIX = "kubeproof."
VERDICTS = [v.value for v in Verdict]
NOT_RUN = "not run"
SCHEMA = "kubeproof-results/1"


def control_properties(control: Control) -> list[tuple[str, str]]:
    """The user_properties a control's test carries (they reach JUnit XML and survive xdist)."""
    return [
        (PREFIX + "control", control.id),
        (PREFIX + "title", control.title),
        (PREFIX + "item", control.item_label),
        (PREFIX + "area", control.area),
        (PREFIX + "kind", control.kind),
        (PREFIX + "remediation", control.remediation),
        (PREFIX + "references", ", ".join(control.references)),
    ]


def check_of(item: Any) -> str:
    """What a test does, from its docstring's first paragraph (the title of its control
    when it has none)."""
    doc = getattr(getattr(item, "obj", None), "__doc__", None) or ""
    return " ".join(doc.strip().split("\n\n")[0].split())


def set_property(props: list[tuple[str, Any]], name: str, value: Any) -> None:
    """Set a kubeproof property in a user_properties list, replacing an earlier value."""
    props[:] = [(k, v) for k, v in props if k != PREFIX + name]
    props.append((PREFIX + name, value))


def reason_of(report: Any) -> str:
    """One redacted line saying why a test phase did not pass (skip reason, failure message)."""
    if getattr(report, "wasxfail", None):
        return redact_text(f"waived: {report.wasxfail}")
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        text = str(longrepr[2]).removeprefix("Skipped: ")
    elif getattr(longrepr, "reprcrash", None) is not None:
        text = longrepr.reprcrash.message
    else:
        lines = [line for line in str(longrepr or "").splitlines() if line.strip()]
        errors = [line[1:].strip() for line in lines if line.startswith("E ")]
        text = errors[0] if errors else (lines[-1] if lines else "")
    text = text.strip()
    if report.when != "call" and report.failed:
        text = f"{report.when} failed: {text}"
    return redact_text(text)[:1000]


@dataclass
class TestResult:
    """One control test's outcome, as the reports show it."""

    nodeid: str
    control: str
    title: str
    item: str
    area: str
    kind: str
    remediation: str
    references: str
    # What the test does, in its docstring's words (its first paragraph).
    check: str = ""
    verdict: str = Verdict.PASS.value
    reason: str = ""
    evidence: list[dict[str, Any]] = field(default_factory=list)
    duration: float = 0.0
    # The index of the waiver that covers this test (waivers.py), if any.
    waiver: int | None = None
    # Whether a mutant of the local reference cluster or the node VM has made this very test
    # fail (proof.py).
    proven: bool = False
    # The CIS Kubernetes Benchmark recommendations this test answers (cis.py).
    cis: list[str] = field(default_factory=list)


class Results:
    """The verdicts of a run, gathered from test reports (works on an xdist controller)."""

    def __init__(self) -> None:
        self.tests: dict[str, TestResult] = {}
        # Control ids that have at least one collected test (None: collection not seen here).
        self.covered: set[str] | None = None
        # Failed phases of tests that are not controls (selftests, bench): the gate keeps them.
        self.other_failures = 0

    def record(self, report: Any) -> None:
        """Take in one phase report of a control test."""
        props = dict(report.user_properties)
        control_id = props.get(PREFIX + "control")
        if not control_id:
            if report.failed:
                self.other_failures += 1
            return
        result = self.tests.get(report.nodeid)
        if result is None:
            control = catalogue.get(control_id)
            result = TestResult(report.nodeid, control.id, control.title, control.item_label,
                                control.area, control.kind, control.remediation,
                                ", ".join(control.references),
                                props.get(PREFIX + "check") or control.title,
                                proven=proof.is_proven(report.nodeid),
                                cis=cis.ids_of(report.nodeid))
            self.tests[report.nodeid] = result
        result.duration += report.duration
        result.verdict = props.get(PREFIX + "verdict", result.verdict)
        if PREFIX + "waiver" in props:
            result.waiver = int(props[PREFIX + "waiver"])
        if PREFIX + "evidence" in props:
            result.evidence = json.loads(props[PREFIX + "evidence"])
        if not result.reason and (report.failed or report.skipped or
                                  getattr(report, "wasxfail", None)):
            result.reason = reason_of(report)

    def control_verdicts(self) -> dict[str, str]:
        """Each catalogue control's verdict from its tests' (see control_verdict), or
        'not run'."""
        by_control: dict[str, list[Verdict]] = {c.id: [] for c in catalogue.CONTROLS}
        for result in self.tests.values():
            by_control[result.control].append(Verdict(result.verdict))
        return {control: (verdict.value if (verdict := control_verdict(tests)) else NOT_RUN)
                for control, tests in by_control.items()}

    def summary_by_item(self) -> dict[int, Counter]:
        """Per checklist item, how many controls ended in each verdict (or were not run)."""
        verdicts = self.control_verdicts()
        summary: dict[int, Counter] = {item: Counter() for item in catalogue.CHECKLIST}
        for control in catalogue.CONTROLS:
            for item in control.items:
                summary[item][verdicts[control.id]] += 1
        return summary

    def summary_by_area(self) -> dict[str, Counter]:
        """Per area (id prefix), how many controls ended in each verdict (or were not run)."""
        verdicts = self.control_verdicts()
        summary: dict[str, Counter] = {}
        for control in catalogue.CONTROLS:
            summary.setdefault(control.area, Counter())[verdicts[control.id]] += 1
        return summary

    def proof(self) -> dict[str, int]:
        """How many of this run's checks are proven able to fail, of how many."""
        return {"checks": len(self.tests),
                "proven": sum(r.proven for r in self.tests.values())}

    def proof_line(self) -> str:
        """The proof figure in one sentence."""
        figure = self.proof()
        return (f"{figure['proven']} of {figure['checks']} checks in this run are proven able "
                f"to fail: a mutant of the local reference cluster or the node VM made each "
                f"of them fail")

    def verdicts_by_waiver(self) -> dict[int, dict[str, str]]:
        """{waiver index: {nodeid: verdict}} of the tests each waiver covered."""
        covered: dict[int, dict[str, str]] = {}
        for result in self.tests.values():
            if result.waiver is not None:
                covered.setdefault(result.waiver, {})[result.nodeid] = result.verdict
        return covered

    def untested(self) -> list[str] | None:
        """Catalogue controls with no collected test (None when this process did not collect)."""
        if self.covered is None:
            return None
        return [c.id for c in catalogue.CONTROLS if c.id not in self.covered]

    def to_json(self, meta: dict[str, Any]) -> dict[str, Any]:
        """The machine-readable results document (`changes` is --compare's, set by the
        plugin)."""
        verdicts = self.control_verdicts()
        waivers_of: dict[str, list[int]] = {}
        for result in self.tests.values():
            if result.waiver is not None and result.waiver not in waivers_of.get(
                    result.control, []):
                waivers_of.setdefault(result.control, []).append(result.waiver)
        return redact({
            "schema": SCHEMA,
            **meta,
            "tests": [asdict(r) for r in self.tests.values()],
            "controls": [{"id": c.id, "item": c.item_label, "area": c.area, "title": c.title,
                          "kind": c.kind, "verdict": verdicts[c.id],
                          "remediation": c.remediation, "references": list(c.references),
                          "waivers": waivers_of.get(c.id, [])}
                         for c in catalogue.CONTROLS],
            "summary": {
                "by_verdict": dict(Counter(r.verdict for r in self.tests.values())),
                "by_item": {str(i): dict(c) for i, c in self.summary_by_item().items()},
                "by_area": {a: dict(c) for a, c in self.summary_by_area().items()},
                "proof": self.proof(),
            },
            "untested": self.untested(),
            "cis": {"benchmark": cis.BENCHMARK, "recommendations": cis.coverage(
                {r.nodeid: r.verdict for r in self.tests.values()})},
            "changes": None,
        })

    def summary_lines(self, verbose: bool = False) -> list[str]:
        """The terminal summary: controls per verdict for each checklist item (when tests
        ran), and the catalogue controls that have no test."""
        lines = []
        if self.tests:
            cols = [*VERDICTS, NOT_RUN]
            lines.append("item " + " ".join(f"{c:>7}" for c in cols) + "  checklist")
            for item, counts in self.summary_by_item().items():
                lines.append(f"{item:>4} " + " ".join(f"{counts[c]:>7}" for c in cols)
                             + f"  {catalogue.CHECKLIST[item]}")
            lines.append(self.proof_line())
        untested = self.untested()
        if untested and self.covered:
            listed = ": " + ", ".join(untested) if verbose else " (-v lists them)"
            lines.append(f"{len(untested)} catalogue controls have no test yet{listed}")
        return lines


def write_json(path: Path, doc: dict[str, Any]) -> None:
    """Write a results document to path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, sort_keys=False) + "\n")


def junit_global_properties(meta: dict[str, Any]) -> list[tuple[str, str]]:
    """The run's metadata as JUnit testsuite properties (kubeproof.*), redacted."""
    cluster = meta.get("cluster") or {}
    gate = meta.get("gate") or {}
    props = [("schema", SCHEMA), ("kubeproof_version", meta.get("kubeproof_version")),
             ("run_id", meta.get("run_id")), ("target", meta.get("target")),
             ("started", meta.get("started")), ("finished", meta.get("finished")),
             ("exit_status", meta.get("exit_status")),
             ("cluster.server", cluster.get("server")), ("cluster.version", cluster.get("version")),
             ("cluster.nodes", json.dumps(cluster.get("nodes", []))),
             ("gate.fail_on", gate.get("fail_on")), ("gate.failed", gate.get("failed")),
             ("gate.reasons", json.dumps(gate.get("reasons", [])))]
    for waiver in meta.get("waivers") or []:
        props.append((f"waiver.{waiver['index']}", json.dumps(waiver)))
    return [(PREFIX + name, redact_text(str("" if value is None else value)))
            for name, value in props]


# pytest-html: extra columns (the summary above the table is htmlsummary.py).

def html_header(cells: list[str]) -> None:
    """Add the control, item, verdict, evidence and remediation columns."""
    cells.insert(2, '<th class="sortable" data-column-type="control">Control</th>')
    cells.insert(3, '<th class="sortable" data-column-type="item">Item</th>')
    cells.insert(4, '<th class="sortable" data-column-type="verdict">Verdict</th>')
    cells.append("<th>Evidence</th>")
    cells.append("<th>Remediation</th>")


def html_row(result: TestResult | None, cells: list[str]) -> None:
    """Fill the extra columns of one row from the test's result."""
    if result is None:
        values = ["", "", "", "", ""]
    else:
        reason = f"<br><small>{escape(result.reason)}</small>" if result.reason else ""
        values = [
            f"{escape(result.control)}<br><small>{escape(result.title)}</small>",
            escape(result.item),
            f'<span class="kubeproof-{escape(result.verdict)}">{escape(result.verdict)}</span>'
            + reason,
            html_evidence(result.evidence),
            escape(result.remediation),
        ]
    cells.insert(2, f'<td class="col-control">{values[0]}</td>')
    cells.insert(3, f'<td class="col-item">{values[1]}</td>')
    cells.insert(4, f'<td class="col-verdict">{values[2]}</td>')
    cells.append(f'<td class="col-evidence">{values[3]}</td>')
    cells.append(f'<td class="col-remediation">{values[4]}</td>')


def html_evidence(entries: list[dict[str, Any]]) -> str:
    """Evidence entries as an HTML list (already redacted; escaped here)."""
    items = []
    for entry in entries:
        value = entry["value"]
        text = value if isinstance(value, str) else json.dumps(value, indent=1)
        items.append(f"<li><b>{escape(entry['label'])}</b>: <code>{escape(text)}</code></li>")
    return f"<ul>{''.join(items)}</ul>" if items else ""
