"""What changed since a previous run (--compare PREVIOUS.json): controls newly failing,
newly passing or otherwise changing verdict, and waivers that expire soon."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

from kubeproof.errors import KubeproofError

SCHEMA = "kubeproof-results/1"
FAILING = ("fail", "error")
WINDOW_DAYS = 30


def load(path: str | Path) -> dict[str, Any]:
    """A previous --kubeproof-json document; KubeproofError with one line when it is
    missing, not JSON or not a kubeproof results document."""
    path = Path(path)
    where = f"--compare {path}"
    if not path.is_file():
        raise KubeproofError(f"{where} does not exist: pass the --kubeproof-json file of an "
                             f"earlier run")
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise KubeproofError(f"{where} cannot be read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise KubeproofError(f"{where} is not valid JSON (line {exc.lineno}: {exc.msg}): pass "
                             f"the --kubeproof-json file of an earlier run") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        found = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
        raise KubeproofError(f"{where} is not a kubeproof results document (schema "
                             f"{found!r}, expected {SCHEMA!r}): pass the --kubeproof-json "
                             f"file of an earlier run")
    controls = doc.get("controls")
    if not isinstance(controls, list) or not all(
            isinstance(c, dict) and isinstance(c.get("id"), str)
            and isinstance(c.get("verdict"), str) for c in controls):
        raise KubeproofError(f"{where} has no list of controls with id and verdict: pass the "
                             f"--kubeproof-json file of an earlier run")
    return doc


def _entry(control: dict[str, Any], before: str) -> dict[str, str]:
    return {"control": control["id"], "title": control["title"], "before": before,
            "after": control["verdict"]}


def diff(previous: dict[str, Any], controls: list[dict[str, Any]],
         waivers: list[dict[str, Any]], today: datetime.date,
         window: int = WINDOW_DAYS) -> dict[str, Any]:
    """The changes from a previous document to this run's controls and waivers.

    newly_failing: failed or errored now, neither before; newly_passing: passes now, did not
    before; changed: every other change of verdict (a control new to the catalogue was
    `not run` before); waivers_expiring: this run's waivers still valid that expire within
    `window` days.
    """
    before = {c["id"]: c["verdict"] for c in previous["controls"]}
    newly_failing, newly_passing, changed = [], [], []
    for control in controls:
        was, now = before.get(control["id"], "not run"), control["verdict"]
        if was == now:
            continue
        if now in FAILING and was not in FAILING:
            newly_failing.append(_entry(control, was))
        elif now == "pass":
            newly_passing.append(_entry(control, was))
        else:
            changed.append(_entry(control, was))
    expiring = []
    for waiver in waivers:
        days = (datetime.date.fromisoformat(waiver["expires"]) - today).days
        if 0 <= days <= window:
            expiring.append({"index": waiver["index"], "control": waiver["control"],
                             "expires": waiver["expires"], "days_left": days,
                             "approver": waiver["approver"], "status": waiver["status"]})
    return {"previous": {"run_id": previous.get("run_id"), "finished": previous.get("finished"),
                         "target": previous.get("target")},
            "expiry_window_days": window, "newly_failing": newly_failing,
            "newly_passing": newly_passing, "changed": changed, "waivers_expiring": expiring}


def summary_lines(changes: dict[str, Any]) -> list[str]:
    """The changes for the terminal summary, one line per kind."""
    run = changes["previous"].get("run_id")
    lines = [f"since run {run} ({changes['previous'].get('finished')}):"]
    for key, what in (("newly_failing", "newly failing"), ("newly_passing", "newly passing"),
                      ("changed", "changed verdict")):
        entries = changes[key]
        shown = ", ".join(f"{e['control']} ({e['before']} -> {e['after']})" for e in entries)
        lines.append(f"  {len(entries)} {what}" + (f": {shown}" if entries else ""))
    expiring = changes["waivers_expiring"]
    shown = ", ".join(f"#{w['index']} {w['control']} on {w['expires']}" for w in expiring)
    lines.append(f"  {len(expiring)} waiver(s) expiring within {changes['expiry_window_days']} "
                 f"days" + (f": {shown}" if expiring else ""))
    return lines
