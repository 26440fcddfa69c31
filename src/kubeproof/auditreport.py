"""The auditor report (--kubeproof-html PATH): one self-contained HTML file rendered from the
JSON results document, control by control, made to be read on paper.

A cover (the assessed cluster, the run, the gate), counts by checklist item, CIS section
and area with CSS bars, what changed since the previous run, the waivers, then one page per
control that ran: what was tried or read, the verdict, the evidence as key/value lists, the
remediation, the references and the waivers. No script, no traceback, no Python source:
reasons are cut to their first sentence-line (auditor_reason).
"""

from __future__ import annotations

import re
from collections import Counter
from html import escape
from pathlib import Path
from typing import Any

from kubeproof import catalogue, identity
from kubeproof.redact import redact

VERDICTS = ("pass", "fail", "error", "waived", "skip", "not run")
LABELS = {"pass": "Pass", "fail": "Fail", "error": "Inconclusive", "waived": "Waived",
          "skip": "Not applicable", "not run": "Not run"}
KIND = {"probe": "Probe: kubeproof tried the forbidden action against the live cluster.",
        "config": "Configuration check: kubeproof read the configuration.",
        "config+probe": "Configuration check and probe: kubeproof read the configuration "
                        "and tried the forbidden action."}
# CIS Kubernetes Benchmark top-level sections.
CIS_SECTIONS = {"1": "Control Plane Components", "2": "etcd", "3": "Control Plane Configuration",
                "4": "Worker Nodes", "5": "Policies"}
NO_CIS = "no CIS reference"
# Exception names pytest puts before a failure's message; auditors need the message only.
_EXCEPTION = re.compile(r"(?:(?<=^)|(?<=[\s(]))(?:[\w]+\.)*(?:AssertionError|Failed|Inconclusive|"
                        r"Skipped|[A-Z]\w*(?:Error|Exception))(?:\(\))?:\s*")
# Lines of pytest's assertion explanation (the source of the assert, its diff).
_EXPLANATION = re.compile(r"^(assert\b|where\b|and\b|[+-?]\s|At index|Full diff|Use -v|\.\.\.)")
_ASSERT = re.compile(r"\bassert\b[^)]*")
UNSTATED = "a check did not hold"

STYLE = """
:root { --pass:#1a7f37; --fail:#cf222e; --error:#8250df; --waived:#9a6700; --skip:#6e7781;
        --notrun:#d0d7de; }
* { box-sizing: border-box; }
body { font: 11pt/1.45 "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; color:#1f2328;
       margin: 0 auto; max-width: 60em; padding: 1.5em; }
h1 { font-size: 22pt; margin: 0 0 .2em 0; } h2 { font-size: 15pt; margin: 1.2em 0 .4em 0; }
h3 { font-size: 11.5pt; margin: 1em 0 .3em 0; }
table { border-collapse: collapse; width: 100%; margin: .4em 0 1em 0; }
th, td { border: 1px solid #d0d7de; padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; } td.n { text-align: right; width: 3.5em; }
th.n { font-size: 8.5pt; width: 4.2em; } h2, h3 { break-after: avoid; page-break-after: avoid; }
.verdict { display:inline-block; padding: 1px 9px; border-radius: 9px; color: #fff;
           font-weight: bold; font-size: 10pt; }
.v-pass { background: var(--pass); } .v-fail { background: var(--fail); }
.v-error { background: var(--error); } .v-waived { background: var(--waived); }
.v-skip { background: var(--skip); } .v-not-run { background: var(--notrun); color:#1f2328; }
.gate-failed { color: var(--fail); font-weight: bold; }
.gate-passed { color: var(--pass); font-weight: bold; }
.bar { display:flex; width: 9em; height: 1em; border: 1px solid #d0d7de; }
.bar span { display:block; height: 100%; }
.b-pass { background: var(--pass); } .b-fail { background: var(--fail); }
.b-error { background: var(--error); } .b-waived { background: var(--waived); }
.b-skip { background: var(--skip); } .b-not-run { background: var(--notrun); }
.legend span { margin-right: 1em; white-space: nowrap; }
.legend i { display:inline-block; width: .9em; height: .9em; margin-right: .3em;
            vertical-align: -1px; }
dl.kv { display: grid; grid-template-columns: minmax(5em, max-content) minmax(60%, 1fr);
        gap: 2px 12px; margin: .2em 0 .6em 0; }
dl.kv dt { font-weight: bold; color: #57606a; overflow-wrap: anywhere; }
dl.kv dd { margin: 0; overflow-wrap: anywhere; white-space: pre-wrap; }
dl.kv dl.kv { margin: 0; }
ul.plain { margin: 0; padding-left: 1.2em; }
code { font-family: "DejaVu Sans Mono", monospace; font-size: 9.5pt; }
.check { border: 1px solid #d0d7de; border-radius: 4px; padding: .3em .8em; margin: .5em 0; }
.muted { color: #57606a; }
section.control { break-before: page; page-break-before: always; }
section.control header { border-bottom: 2px solid #1f2328; margin-bottom: .6em; }
tr, .check > p { break-inside: avoid; page-break-inside: avoid; }
dl.kv > dt { break-after: avoid; page-break-after: avoid; }
section.summary { break-before: page; page-break-before: always; }
@page { size: A4; margin: 16mm 14mm; }
.bar.wide { width: 100%; height: 1.4em; margin: .3em 0 .8em 0; }
@media print { body { max-width: none; padding: 0; font-size: 10pt; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; } }
"""


def auditor_reason(reason: str) -> str:
    """A test's reason as an auditor reads it: its message lines without the exception name
    pytest puts in front or pytest's explanation of the assert (never a traceback or an
    assertion's source)."""
    kept, closes = [], ""
    for line in (line.strip() for line in str(reason or "").splitlines()):
        if not line:
            continue
        if _EXPLANATION.match(line):
            closes += ")" * (line.count(")") - line.count("("))
            continue
        kept.append(line)
    text = " ".join(kept)
    text = _ASSERT.sub(UNSTATED, _EXCEPTION.sub("", text))
    if text.count("(") > text.count(")"):
        text += closes[: text.count("(") - text.count(")")]
    return text.strip() or (UNSTATED if reason and reason.strip() else "")


def cis_sections(references: list[str]) -> list[str]:
    """The CIS Benchmark sections (two levels, `1.2`) a control's references name."""
    found = []
    for ref in references:
        match = re.match(r"CIS (\d+)(?:\.(\d+))?", ref)
        if match:
            section = match.group(1) + (f".{match.group(2)}" if match.group(2) else "")
            if section not in found:
                found.append(section)
    return found


def counts_by_cis(controls: list[dict[str, Any]]) -> dict[str, Counter]:
    """Per CIS section (and `no CIS reference`), how many controls ended in each verdict."""
    by: dict[str, Counter] = {}
    for control in controls:
        for section in cis_sections(control["references"]) or [NO_CIS]:
            by.setdefault(section, Counter())[control["verdict"]] += 1
    return dict(sorted(by.items(), key=lambda kv: (kv[0] == NO_CIS, kv[0])))


def _badge(verdict: str) -> str:
    css = verdict.replace(" ", "-")
    return f'<span class="verdict v-{escape(css)}">{escape(LABELS.get(verdict, verdict))}</span>'


def _bar(counts: Counter, wide: str = "") -> str:
    total = sum(counts.values()) or 1
    parts = "".join(f'<span class="b-{v.replace(" ", "-")}" '
                    f'style="width:{100 * counts[v] / total:.2f}%" '
                    f'title="{escape(LABELS[v])}: {counts[v]}"></span>'
                    for v in VERDICTS if counts.get(v))
    return f'<div class="bar {wide}">{parts}</div>'


def _legend() -> str:
    return '<p class="legend">' + "".join(
        f'<span><i class="b-{v.replace(" ", "-")}"></i>{escape(LABELS[v])}</span>'
        for v in VERDICTS) + "</p>"


def _count_table(table_id: str, first: list[str], rows: list[tuple[list[str], Counter]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in first)
    head += "".join(f'<th class="n">{escape(LABELS[v])}</th>' for v in VERDICTS)
    head += "<th>chart</th>"
    body = ""
    for cells, counts in rows:
        body += "<tr>" + "".join(f"<td>{c}</td>" for c in cells)
        body += "".join(f'<td class="n">{counts.get(v) or ""}</td>' for v in VERDICTS)
        body += f"<td>{_bar(counts)}</td></tr>"
    return f'<table id="{table_id}"><tr>{head}</tr>{body}</table>'


def value_html(value: Any) -> str:
    """An evidence value as readable HTML: mappings as key/value lists, lists as bullets."""
    if isinstance(value, dict):
        if not value:
            return '<span class="muted">(empty)</span>'
        items = "".join(f"<dt>{escape(str(k))}</dt><dd>{value_html(v)}</dd>"
                        for k, v in value.items())
        return f'<dl class="kv">{items}</dl>'
    if isinstance(value, list):
        if not value:
            return '<span class="muted">(none)</span>'
        if all(not isinstance(v, (dict, list)) for v in value) and len(value) <= 6 and \
                sum(len(str(v)) for v in value) < 80:
            return ", ".join(value_html(v) for v in value)
        return '<ul class="plain">' + "".join(f"<li>{value_html(v)}</li>" for v in value) + "</ul>"
    if value is None:
        return '<span class="muted">(not set)</span>'
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    if text == "":
        return '<span class="muted">(empty)</span>'
    return f"<code>{escape(text)}</code>" if "\n" in text or len(text) < 120 else escape(text)


def evidence_html(entries: list[dict[str, Any]]) -> str:
    """A test's evidence records as one key/value list."""
    if not entries:
        return '<p class="muted">No evidence recorded.</p>'
    items = "".join(f"<dt>{escape(e['label'])}</dt><dd>{value_html(e['value'])}</dd>"
                    for e in entries)
    return f'<dl class="kv">{items}</dl>'


class _Report:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.tests_of: dict[str, list[dict[str, Any]]] = {}
        for test in doc.get("tests") or []:
            self.tests_of.setdefault(test["control"], []).append(test)
        self.waivers = doc.get("waivers") or []

    def cover(self) -> str:
        doc = self.doc
        cluster = doc.get("cluster") or {}
        gate = doc.get("gate") or {}
        state = "failed" if gate.get("failed") else "passed"
        verdicts = Counter(c["verdict"] for c in doc["controls"])
        rows = [
            ("Assessed cluster (API server)",
             escape(str(cluster.get("server") or "not contacted"))),
            ("Kubernetes version", escape(str(cluster.get("version") or "not contacted"))),
            ("Nodes' operating system", escape(identity.node_os_summary(cluster or None))),
            ("Target", escape(str(doc.get("target", "")))),
            ("Run id", f"<code>{escape(str(doc.get('run_id', '')))}</code>"),
            ("Started (UTC)", escape(str(doc.get("started", "")))),
            ("Finished (UTC)", escape(str(doc.get("finished", "")))),
            ("kubeproof version", escape(str(doc.get("kubeproof_version", "")))),
            ("Result", f'<span class="gate-{state}">{escape(gate.get("line", "not decided"))}'
                       "</span>"),
        ]
        table = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
        nodes = cluster.get("nodes") or []
        node_rows = "".join(
            f"<tr><td>{escape(n['name'])}</td><td>{escape(n['os_image'])}</td>"
            f"<td>{escape(n['kernel_version'])}</td><td>{escape(n['container_runtime'])}</td>"
            f"<td>{escape(n['kubelet_version'])}</td></tr>" for n in nodes)
        node_table = ("<h3>Nodes</h3><table id=\"audit-nodes\"><tr><th>node</th><th>OS image</th>"
                      "<th>kernel</th><th>container runtime</th><th>kubelet</th></tr>"
                      f"{node_rows}</table>" if nodes else "")
        ran = sum(n for v, n in verdicts.items() if v != "not run")
        tally = ", ".join(f"{verdicts[v]} {LABELS[v].lower()}" for v in VERDICTS[:-1]
                          if verdicts.get(v))
        return (f'<section class="cover" id="audit-cover"><h1>Kubernetes security controls '
                f"assessment</h1><p class=\"muted\">kubeproof report for auditors: each control "
                f"is a test that tried the forbidden thing against the cluster or read its "
                f"configuration.</p><table id=\"audit-run\">{table}</table>{node_table}"
                f"<h3>Verdicts of the assessed controls</h3>"
                f"{_bar(Counter({v: n for v, n in verdicts.items() if v != 'not run'}), 'wide')}"
                f"{_legend()}<p>{ran} of {len(doc['controls'])} catalogue controls were assessed"
                f"{': ' + escape(tally) if tally else ''}. "
                f"{escape(self._proof_line())}</p></section>")

    def _proof_line(self) -> str:
        proof = (self.doc.get("summary") or {}).get("proof") or {}
        if not proof.get("checks"):
            return ""
        return (f"{proof.get('proven', 0)} of {proof['checks']} checks are proven able to fail "
                f"(a weakened reference cluster made each of them fail).")

    def summary(self) -> str:
        controls = self.doc["controls"]
        by_item: dict[int, Counter] = {i: Counter() for i in catalogue.CHECKLIST}
        by_area: dict[str, Counter] = {}
        for c in controls:
            for item in (int(i) for i in str(c["item"]).split(",") if i.strip()):
                by_item.setdefault(item, Counter())[c["verdict"]] += 1
            by_area.setdefault(c["area"], Counter())[c["verdict"]] += 1
        items = _count_table("audit-by-item", ["item", "checklist"], [
            ([str(i), escape(catalogue.CHECKLIST.get(i, ""))], n) for i, n in by_item.items()])
        cis = _count_table("audit-by-cis", ["CIS section"], [
            ([escape(s if s == NO_CIS else f"{s} {CIS_SECTIONS.get(s.split('.')[0], '')}")], n)
            for s, n in counts_by_cis(controls).items()])
        areas = _count_table("audit-by-area", ["area"], [
            ([escape(a)], n) for a, n in by_area.items()])
        return ('<section class="summary" id="audit-summary"><h2>Controls by checklist item'
                "</h2><p class=\"muted\">Checklist: \"11 ways (not) to get hacked\" (Kubernetes "
                "blog, 2018). A control counts once per item it proves.</p>"
                f"{_legend()}{items}<h2>Controls by CIS Kubernetes Benchmark section</h2>"
                f"{cis}<h2>Controls by area</h2>{areas}</section>")

    def changes(self) -> str:
        changes = self.doc.get("changes")
        if not changes:
            return ""
        previous = changes.get("previous") or {}
        parts = [f"<h2>What changed since the previous run</h2><p>Compared with run "
                 f"<code>{escape(str(previous.get('run_id', '')))}</code> of "
                 f"{escape(str(previous.get('finished', '')))}.</p>"]
        for key, title in (("newly_failing", "Newly failing"), ("newly_passing", "Newly passing"),
                           ("changed", "Changed verdict")):
            entries = changes.get(key) or []
            rows = "".join(f"<tr><td><code>{escape(e['control'])}</code></td>"
                           f"<td>{escape(e['title'])}</td><td>{_badge(e['before'])}</td>"
                           f"<td>{_badge(e['after'])}</td></tr>" for e in entries)
            parts.append(f"<h3>{title} ({len(entries)})</h3>" + (
                f'<table id="audit-{key.replace("_", "-")}"><tr><th>control</th><th>title</th>'
                f"<th>before</th><th>now</th></tr>{rows}</table>" if entries
                else '<p class="muted">None.</p>'))
        expiring = changes.get("waivers_expiring") or []
        rows = "".join(f"<tr><td>#{w['index']}</td><td><code>{escape(w['control'])}</code></td>"
                       f"<td>{escape(w['expires'])}</td><td>{w['days_left']}</td>"
                       f"<td>{escape(w['approver'])}</td></tr>" for w in expiring)
        parts.append(f"<h3>Waivers expiring within {changes.get('expiry_window_days', 30)} days "
                     f"({len(expiring)})</h3>" + (
                         '<table id="audit-waivers-expiring"><tr><th>#</th><th>control</th>'
                         f"<th>expires</th><th>days left</th><th>approver</th></tr>{rows}</table>"
                         if expiring else '<p class="muted">None.</p>'))
        return '<section class="summary" id="audit-changes">' + "".join(parts) + "</section>"

    def waiver_table(self) -> str:
        if not self.waivers:
            return ""
        rows = "".join(self._waiver_row(w) for w in self.waivers)
        return ('<section id="audit-waivers"><h2>Waivers</h2><table><tr><th>#</th>'
                "<th>control</th><th>scope</th><th>justification</th><th>approver</th>"
                f"<th>expires</th><th>status</th></tr>{rows}</table></section>")

    @staticmethod
    def _waiver_row(w: dict[str, Any]) -> str:
        scope = ", ".join(f"{k} {v}" for k, v in w["scope"].items()) or "every test"
        return (f"<tr><td>#{w['index']}</td><td><code>{escape(w['control'])}</code></td>"
                f"<td>{escape(scope)}</td><td>{escape(w['justification'])}</td>"
                f"<td>{escape(w['approver'])}</td><td>{escape(w['expires'])}</td>"
                f"<td><b>{escape(w['status'])}</b>: {escape(w['message'])}</td></tr>")

    def control(self, control: dict[str, Any]) -> str:
        cid = control["id"]
        refs = [f"checklist item {control['item']}", *control["references"]]
        waivers = [w for w in self.waivers if w["control"] == cid]
        waiver_html = ("<h3>Waivers</h3><table><tr><th>#</th><th>scope</th><th>justification"
                       "</th><th>approver</th><th>expires</th><th>status</th></tr>"
                       + "".join(self._control_waiver_row(w) for w in waivers) + "</table>"
                       if waivers else "")
        checks = "".join(self.check(t) for t in self.tests_of.get(cid, []))
        fix = (f"<h3>Remediation</h3><p>{escape(control['remediation'])}</p>")
        return (f'<section class="control" id="control-{escape(cid)}"><header>'
                f"<h2>{escape(control['title'])}</h2><p><code>{escape(cid)}</code> "
                f"{_badge(control['verdict'])}</p></header>"
                f"<p>{escape(KIND.get(control['kind'], control['kind']))}</p>"
                f"<p><b>References:</b> {escape('; '.join(refs))}</p>"
                f"<h3>Checks ({len(self.tests_of.get(cid, []))})</h3>{checks}{fix}{waiver_html}"
                "</section>")

    @staticmethod
    def _control_waiver_row(w: dict[str, Any]) -> str:
        scope = ", ".join(f"{k} {v}" for k, v in w["scope"].items()) or "every test"
        return (f"<tr><td>#{w['index']}</td><td>{escape(scope)}</td>"
                f"<td>{escape(w['justification'])}</td><td>{escape(w['approver'])}</td>"
                f"<td>{escape(w['expires'])}</td><td><b>{escape(w['status'])}</b>: "
                f"{escape(w['message'])}</td></tr>")

    @staticmethod
    def check(test: dict[str, Any]) -> str:
        case = test["nodeid"].partition("[")[2].rstrip("]")
        what = test.get("check") or test["title"]
        reason = auditor_reason(test.get("reason", ""))
        why = f"<p><b>Why:</b> {escape(reason)}</p>" if reason else ""
        return (f'<div class="check"><p>{_badge(test["verdict"])} {escape(what)}'
                f"{f' <span class=muted>(case {escape(case)})</span>' if case else ''}</p>"
                f"{why}{evidence_html(test.get('evidence') or [])}</div>")

    def not_run(self) -> str:
        skipped = [c for c in self.doc["controls"] if c["verdict"] == "not run"]
        if not skipped:
            return ""
        rows = "".join(f"<tr><td><code>{escape(c['id'])}</code></td><td>{escape(c['title'])}"
                       f"</td><td>{escape(c['item'])}</td></tr>" for c in skipped)
        return ('<section class="summary" id="audit-not-run"><h2>Controls not assessed in this '
                "run</h2><p class=\"muted\">Not selected, or without a test yet.</p>"
                f"<table><tr><th>control</th><th>title</th><th>item</th></tr>{rows}</table>"
                "</section>")

    def cis_coverage(self) -> str:
        """The CIS Benchmark coverage table: each recommendation, its verdict from the tests
        that answer it, or why it has none."""
        coverage = self.doc.get("cis")
        if not coverage:
            return ""
        rows = ""
        for rec in coverage["recommendations"]:
            tested = rec["verdict"] != "no test"
            verdict = _badge(rec["verdict"]) if tested else "no test"
            note = (f"{len(rec['tests'])} check{'s' if len(rec['tests']) != 1 else ''}"
                    if tested else rec["reason"])
            rows += (f"<tr><td>{escape(rec['id'])}</td><td>{escape(rec['title'])}</td>"
                     f"<td>{rec['level']}</td><td>{escape(rec['assessment'])}</td><td>{verdict}</td>"
                     f"<td>{escape(note)}</td></tr>")
        answered = sum(r["verdict"] != "no test" for r in coverage["recommendations"])
        return (f'<section class="summary" id="audit-cis"><h2>{escape(coverage["benchmark"])}'
                f"</h2><p class=\"muted\">{answered} of {len(coverage['recommendations'])} "
                "recommendations answered by this run's checks (the checks are on the "
                "controls' pages). Level 1 is the benchmark's base profile, level 2 its defence "
                "in depth.</p><table><tr><th>id</th><th>recommendation</th><th>level</th>"
                "<th>assessment</th><th>verdict</th><th>checks, or why none</th></tr>"
                f"{rows}</table></section>")

    def render(self) -> str:
        ran = [c for c in self.doc["controls"] if c["verdict"] != "not run"]
        title = f"kubeproof assessment {self.doc.get('run_id', '')}"
        return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
                + self.cover() + self.summary() + self.changes() + self.waiver_table()
                + "".join(self.control(c) for c in ran) + self.not_run() + self.cis_coverage()
                + "</body></html>\n")


def render(doc: dict[str, Any]) -> str:
    """The auditor report of a results document (kubeproof-results/1) as one HTML page."""
    return _Report(redact(doc)).render()


def write(path: Path, doc: dict[str, Any]) -> None:
    """Write the auditor report of a results document to path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(doc))
