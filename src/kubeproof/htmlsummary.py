"""The top of the HTML report (pytest-html summary prefix): the run's header with the
cluster's identity, the gate, controls by checklist item and by area, the waivers and each
control that ran. Static HTML: it renders without the report's JavaScript."""

from __future__ import annotations

from html import escape
from typing import Any

from kubeproof import catalogue, identity
from kubeproof.report import NOT_RUN, VERDICTS, Results

COLUMNS = [*VERDICTS, NOT_RUN]

STYLE = """<style>
#kubeproof-header td, #kubeproof-header th, table.kubeproof td, table.kubeproof th {
  border: 1px solid #ccc; padding: 2px 8px; text-align: left; vertical-align: top; }
table.kubeproof, #kubeproof-header { border-collapse: collapse; margin: 6px 0 14px 0; }
table.kubeproof td.n { text-align: right; }
.kubeproof-pass { color: #1a7f37; font-weight: bold; }
.kubeproof-fail, .kubeproof-error, .kubeproof-stale, .kubeproof-expired, .kubeproof-gate-failed {
  color: #cf222e; font-weight: bold; }
.kubeproof-waived, .kubeproof-applied { color: #9a6700; font-weight: bold; }
.kubeproof-skip, .kubeproof-unused { color: #57606a; }
.kubeproof-gate-passed { color: #1a7f37; font-weight: bold; }
</style>"""


def _verdict(value: str) -> str:
    return f'<span class="kubeproof-{escape(value.replace(" ", "-"))}">{escape(value)}</span>'


def _table(table_id: str, head: list[str], rows: list[list[str]]) -> str:
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(row) + "</tr>" for row in rows)
    return f'<table class="kubeproof" id="{table_id}"><tr>{header}</tr>{body}</table>'


def _count_cells(counts: Any) -> list[str]:
    return [f'<td class="n">{counts[c] if counts[c] else ""}</td>' for c in COLUMNS]


def header(meta: dict[str, Any]) -> str:
    """The run's identity: cluster, version, node OS, target, run id, date, kubeproof."""
    cluster = meta.get("cluster") or {}
    gate = meta.get("gate") or {}
    state = "failed" if gate.get("failed") else "passed"
    rows = [
        ("Cluster API server", escape(str(cluster.get("server") or "not contacted"))),
        ("Kubernetes version", escape(str(cluster.get("version") or "not contacted"))),
        ("Node OS image", escape(identity.node_os_summary(cluster or None))),
        ("Target", escape(str(meta.get("target", "")))),
        ("Run id", f"<code>{escape(str(meta.get('run_id', '')))}</code>"),
        ("Date (UTC)", escape(f"{meta.get('started', '')} to {meta.get('finished', '')}")),
        ("kubeproof version", escape(str(meta.get("kubeproof_version", "")))),
        ("Result", f'<span class="kubeproof-gate-{state}">'
                   f"{escape(gate.get('line', ''))}</span>"),
    ]
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<h2>kubeproof run</h2><table id="kubeproof-header">{body}</table>'


def by_item(results: Results) -> str:
    rows = [[f"<td>{item}</td>", f"<td>{escape(catalogue.CHECKLIST[item])}</td>",
             *_count_cells(counts)] for item, counts in results.summary_by_item().items()]
    return ("<h2>Controls by checklist item</h2>"
            + _table("kubeproof-summary", ["item", "checklist", *COLUMNS], rows))


def by_area(results: Results) -> str:
    rows = [[f"<td>{escape(area)}</td>", *_count_cells(counts)]
            for area, counts in results.summary_by_area().items()]
    return "<h2>Controls by area</h2>" + _table("kubeproof-areas", ["area", *COLUMNS], rows)


def waivers(statuses: list[dict[str, Any]]) -> str:
    if not statuses:
        return ""
    rows = [[f"<td>#{w['index']}</td>", f"<td>{escape(w['control'])}</td>",
             f"<td>{escape(', '.join(f'{k} {v}' for k, v in w['scope'].items()) or 'all')}</td>",
             f"<td>{escape(w['justification'])}</td>", f"<td>{escape(w['approver'])}</td>",
             f"<td>{escape(w['expires'])}</td>", f"<td>{_verdict(w['status'])}</td>",
             f"<td>{escape(w['message'])}</td>"] for w in statuses]
    return "<h2>Waivers</h2>" + _table(
        "kubeproof-waivers",
        ["#", "control", "scope", "justification", "approver", "expires", "status", "detail"],
        rows)


def controls(results: Results) -> str:
    """Every control that ran: id, title, item, verdict, remediation when it did not pass."""
    verdicts = results.control_verdicts()
    rows = []
    for control in catalogue.CONTROLS:
        verdict = verdicts[control.id]
        if verdict == NOT_RUN:
            continue
        fix = control.remediation if verdict in ("fail", "error", "waived") else ""
        rows.append([f"<td><code>{escape(control.id)}</code></td>",
                     f"<td>{escape(control.title)}</td>", f"<td>{escape(control.item_label)}</td>",
                     f"<td>{_verdict(verdict)}</td>", f"<td>{escape(fix)}</td>"])
    untested = results.untested()
    note = (f"<p>{len(untested)} catalogue controls have no test yet: "
            f"{escape(', '.join(untested))}</p>" if untested else "")
    return ("<h2>Controls in this run</h2><p>Evidence for each test is in the results table "
            "below (expand a row).</p>"
            + _table("kubeproof-controls", ["control", "title", "item", "verdict", "remediation"],
                     rows) + note)


def render(results: Results, meta: dict[str, Any]) -> str:
    """The whole summary block."""
    return (STYLE + header(meta) + f'<p id="kubeproof-proof">{escape(results.proof_line())}'
            "; the list is src/kubeproof/proven.txt, the rest with their reasons "
            "selftests/expected/unproven.yaml.</p>" + by_item(results) + by_area(results)
            + waivers(meta.get("waivers") or []) + controls(results))
