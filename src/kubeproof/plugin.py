"""The kubeproof pytest plugin: hooks only (options, markers, selection, verdicts, reports)."""

from __future__ import annotations

import datetime
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest

from kubeproof import (
    __version__,
    auditreport,
    catalogue,
    cis,
    compare,
    fixtures,
    hdf,
    htmlsummary,
    identity,
    options,
    oscal,
    pdf,
    proof,
    sarif,
    waivers,
)
from kubeproof import gate as gating
from kubeproof import report as reporting
from kubeproof.errors import KubeproofError
from kubeproof.probes import new_run_id
from kubeproof.redact import redact_text
from kubeproof.verdicts import Verdict, verdict_of, worst

RESULTS = pytest.StashKey[reporting.Results]()
VERDICT = pytest.StashKey[Verdict]()
STARTED = pytest.StashKey[str]()
WAIVERS = pytest.StashKey[list[waivers.Waiver]]()
WAIVER = pytest.StashKey[waivers.Waiver]()
# The run's metadata for the reports (set at session finish on the controller).
META = pytest.StashKey[dict[str, Any]]()
# The results document (set at session finish on the controller) and --compare's input.
DOC = pytest.StashKey[dict[str, Any]]()
PREVIOUS = pytest.StashKey[dict[str, Any]]()
# Report files that could not be written (one line each, shown in the terminal summary).
REPORT_ERRORS = pytest.StashKey[list[str]]()
MAX_PROBLEMS = 5


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int | None:
    if not config.getoption("list_controls"):
        return None
    for c in catalogue.CONTROLS:
        seed = " seed" if c.seed else ""
        print(f"{c.id:40} item {c.item_label:6} {c.kind:12}{seed:5} {c.title}")
    return 0


def pytest_configure(config: pytest.Config) -> None:
    for name, text in catalogue.marker_descriptions().items():
        config.addinivalue_line("markers", f"{name}: {text}")
    config.addinivalue_line(
        "markers", "control(id): the catalogue control this test proves (kubeproof.control)"
    )
    options.check_options(config)
    config.stash[WAIVERS] = _load_waivers(config)
    if not _is_worker(config):
        _check_report_options(config)
    workerinput = getattr(config, "workerinput", {})
    config.stash[fixtures.RUN_ID] = workerinput.get("kubeproof_run_id") or new_run_id()
    config.stash[RESULTS] = reporting.Results()
    config.stash[STARTED] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    if not config.pluginmanager.has_plugin("kubeproof-fixtures"):
        config.pluginmanager.register(fixtures, "kubeproof-fixtures")
    config.pluginmanager.register(RunHooks(config), "kubeproof-run")


def _load_waivers(config: pytest.Config) -> list[waivers.Waiver]:
    """The --waivers file, checked at configure time: a bad file is a usage error."""
    path = config.getoption("waivers")
    if not path:
        return []
    try:
        return waivers.load(Path(config.invocation_params.dir, path))
    except KubeproofError as exc:
        raise pytest.UsageError(str(exc)) from None


def _check_report_options(config: pytest.Config) -> None:
    """--compare's file and --kubeproof-pdf's browser, checked before the run (usage errors)."""
    try:
        if config.getoption("compare"):
            config.stash[PREVIOUS] = compare.load(
                Path(config.invocation_params.dir, config.getoption("compare")))
        if config.getoption("kubeproof_pdf"):
            pdf.browser()
    except KubeproofError as exc:
        raise pytest.UsageError(str(exc)) from None


def _today() -> datetime.date:
    return datetime.datetime.now(datetime.UTC).date()


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist: every worker shares the controller's run id."""
    node.workerinput["kubeproof_run_id"] = node.config.stash[fixtures.RUN_ID]


def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    if config.pluginmanager.has_plugin("dsession") and not config.option.collectonly:
        # xdist controller: it runs no test, but it starts the target once (workers then
        # reuse it) and bad target options end the run here, once.
        try:
            fixtures.start_target(config)
        except KubeproofError as exc:
            raise pytest.UsageError(f"kubeproof: {exc}") from None
    if config.pluginmanager.has_plugin("metadata"):
        from pytest_metadata.plugin import metadata_key

        config.stash[metadata_key].update({
            "kubeproof": __version__,
            "kubeproof target": config.getoption("target"),
            "kubeproof run id": config.stash[fixtures.RUN_ID],
        })


def _is_free(item: pytest.Item, free: list[Path]) -> bool:
    return any(item.path == p or p in item.path.parents for p in free)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tag each test with its control's markers and metadata; refuse undeclared or unknown
    ids; apply --control selection."""
    free = [config.rootpath / p for p in config.getini("kubeproof_free_paths")]
    problems: list[str] = []
    covered: set[str] = set()
    for item in items:
        mark = item.get_closest_marker("control")
        if mark is None:
            if not _is_free(item, free):
                problems.append(f"{item.nodeid} declares no control "
                                f"(add @kubeproof.control('area.name'))")
            continue
        control_id = mark.args[0] if len(mark.args) == 1 else None
        if not isinstance(control_id, str) or not catalogue.exists(control_id):
            near = catalogue.nearest(str(control_id))
            problems.append(f"{item.nodeid} has unknown control id {control_id!r}"
                            + (f" (did you mean {', '.join(near)}?)" if near else ""))
            continue
        control = catalogue.get(control_id)
        covered.add(control.id)
        item.stash[fixtures.CONTROL] = control
        for name in control.markers:
            item.add_marker(name)
        if cis.ids_of(item.nodeid) and "cis" not in control.markers:
            item.add_marker("cis")  # -m cis: every test that answers a CIS recommendation
        item.user_properties.extend(reporting.control_properties(control))
        item.user_properties.append((reporting.PREFIX + "check", reporting.check_of(item)))
        item.user_properties.append((reporting.PREFIX + "proven",
                                     str(proof.is_proven(item.nodeid)).lower()))
        callspec = getattr(item, "callspec", None)
        waiver = waivers.first_covering(config.stash[WAIVERS], control.id,
                                        callspec.params if callspec else {},
                                        callspec.id if callspec else "", _today())
        if waiver is not None:
            item.stash[WAIVER] = waiver
            item.user_properties.append((reporting.PREFIX + "waiver", waiver.index))
    if problems:
        more = len(problems) - MAX_PROBLEMS
        raise pytest.UsageError(
            "collection refused: " + "; ".join(problems[:MAX_PROBLEMS])
            + (f"; and {more} more" if more > 0 else "")
        )
    config.stash[RESULTS].covered = covered
    wanted = set(config.getoption("control"))
    if wanted:
        keep = [i for i in items if fixtures.CONTROL in i.stash
                and i.stash[fixtures.CONTROL].id in wanted]
        dropped = [i for i in items if i not in keep]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the target before the first test when any selected test needs the cluster, so
    that a bad option or an unreachable cluster ends the run with one line."""
    config = session.config
    if config.option.collectonly or _is_worker(config):
        return
    if any("cluster" in getattr(item, "fixturenames", ()) for item in session.items):
        try:
            fixtures.start_target(config)
        except KubeproofError as exc:
            raise pytest.UsageError(f"kubeproof: {exc}") from None


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Give each phase report its verdict and evidence; never let secrets into a report."""
    rep = yield
    _redact_report(rep)
    if fixtures.CONTROL not in item.stash:
        return rep
    exc_type = call.excinfo.type if call.excinfo is not None else None
    verdict = verdict_of(rep.when, rep.outcome, exc_type, bool(getattr(rep, "wasxfail", None)))
    if rep.failed and str(rep.longrepr).startswith("[XPASS(strict)]"):
        verdict = Verdict.FAIL
    recorder = item.stash.get(fixtures.EVIDENCE, None)
    if rep.when == "call":
        if verdict is Verdict.PASS and (recorder is None or not recorder.entries):
            rep.outcome = "failed"
            rep.longrepr = (f"kubeproof: {item.stash[fixtures.CONTROL].id} passed without "
                            f"recording evidence (use the evidence fixture: evidence.add(...)); "
                            f"a control never passes on missing evidence")
            verdict = Verdict.ERROR
        if recorder is not None:
            value = json.dumps(recorder.as_list())
            reporting.set_property(item.user_properties, "evidence", value)
            reporting.set_property(rep.user_properties, "evidence", value)
    waiver = item.stash.get(WAIVER, None)
    if waiver is not None and verdict is Verdict.FAIL:
        # The waiver covers this failure: reported as waived (pytest: xfailed), not failed.
        failure = reporting.reason_of(rep)
        rep.outcome = "skipped"
        rep.wasxfail = (f"{waiver.label}, approved by {waiver.approver} until {waiver.expires}: "
                        f"{waiver.justification} (failure: {failure})")
        verdict = Verdict.WAIVED
    combined = worst(item.stash.get(VERDICT, None), verdict)
    item.stash[VERDICT] = combined
    reporting.set_property(item.user_properties, "verdict", combined.value)
    reporting.set_property(rep.user_properties, "verdict", combined.value)
    return rep


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> Any:
    """A failed control test in kubeproof's words: FAIL when the control failed, ERROR
    (inconclusive) when its evidence could not be established, so that the short summary
    and -rA never show an inconclusive control as a failed one."""
    if report.when != "call" or not report.failed:
        return None
    verdict = dict(report.user_properties).get(reporting.PREFIX + "verdict")
    if verdict == Verdict.ERROR.value:
        return "error", "E", ("ERROR (inconclusive)", {"red": True})
    if verdict == Verdict.FAIL.value:
        return "failed", "F", ("FAIL", {"red": True})
    return None


def _redact_report(rep: pytest.TestReport) -> None:
    """Mask credentials in a report's failure text and captured output."""
    if isinstance(rep.longrepr, tuple) and len(rep.longrepr) == 3:
        # A skip: (path, line, "Skipped: reason").
        path, line, reason = rep.longrepr
        rep.longrepr = (path, line, redact_text(str(reason)))
    elif rep.longrepr is not None and not isinstance(rep.longrepr, tuple):
        text = str(rep.longrepr)
        masked = redact_text(text)
        if masked != text:
            rep.longrepr = masked
    rep.sections = [(title, redact_text(content)) for title, content in rep.sections]


class RunHooks:
    """Hooks that need the run's config but whose hookspecs do not pass it."""

    def __init__(self, config: pytest.Config) -> None:
        self.results = config.stash[RESULTS]
        self.run_id = config.stash[fixtures.RUN_ID]

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.results.record(report)

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_row(self, report: Any, cells: list[str]) -> None:
        reporting.html_row(self.results.tests.get(report.nodeid), cells)

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_report_title(self, report: Any) -> None:
        report.title = f"kubeproof report {self.run_id}"


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    lines = config.stash[RESULTS].summary_lines(verbose=config.get_verbosity() > 0)
    preflight = {t.reason[t.reason.index("probe preflight:"):]
                 for t in config.stash[RESULTS].tests.values() if "probe preflight:" in t.reason}
    for reason in sorted(preflight):
        terminalreporter.write_line(f"kubeproof: {reason}", red=True, bold=True)
    meta = config.stash.get(META, {})
    lines += [w["message"] for w in meta.get("waivers", [])]
    changes = config.stash.get(DOC, {}).get("changes")
    if changes:
        lines += compare.summary_lines(changes)
    if lines:
        terminalreporter.write_sep("=", "kubeproof: controls by checklist item")
        for line in lines:
            terminalreporter.write_line(line)
        if config.getoption("target") == "local":
            from kubeproof.targets.local import summary_lines as local_summary_lines

            for line in local_summary_lines(config.stash[RESULTS].control_verdicts()):
                terminalreporter.write_line(line)
        if meta.get("gate"):
            failed = meta["gate"]["failed"]
            terminalreporter.write_line("kubeproof " + meta["gate"]["line"], red=failed,
                                        green=not failed, bold=True)
    for problem in config.stash.get(REPORT_ERRORS, []):
        terminalreporter.write_line(f"kubeproof: {problem}", red=True, bold=True)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist controller: the controls a worker collected tests for (the controller collects
    none), so that the results know which controls have no test."""
    covered = getattr(node, "workeroutput", {}).get("kubeproof_covered")
    if covered is not None:
        results = node.config.stash[RESULTS]
        results.covered = (results.covered or set()) | set(covered)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Decide the gate (the exit status), then write JSON and OSCAL and give the JUnit and
    HTML reports (written after this hook) the run's metadata."""
    config = session.config
    if _is_worker(config):
        covered = config.stash[RESULTS].covered
        config.workeroutput["kubeproof_covered"] = None if covered is None else sorted(covered)
        return
    results = config.stash[RESULTS]
    statuses = waivers.evaluate(config.stash[WAIVERS], results.verdicts_by_waiver(), _today())
    decision = gating.decide(session.exitstatus, results.control_verdicts(),
                             results.other_failures, [s.message for s in statuses if s.problem],
                             config.getoption("fail_on"))
    session.exitstatus = decision.exit_status
    access = config.stash.get(fixtures.CLUSTER, None)
    meta = {
        "kubeproof_version": __version__,
        "run_id": config.stash[fixtures.RUN_ID],
        "target": config.getoption("target"),
        "started": config.stash[STARTED],
        "finished": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "exit_status": decision.exit_status,
        "cluster": identity.cluster_identity(access) if access is not None else None,
        "gate": decision.as_dict(),
        "waivers": [s.as_dict() for s in statuses],
    }
    config.stash[META] = meta
    _add_report_metadata(config, meta)
    doc = results.to_json(meta)
    if PREVIOUS in config.stash:
        doc["changes"] = compare.diff(config.stash[PREVIOUS], doc["controls"], doc["waivers"],
                                      _today())
    config.stash[DOC] = doc
    if config.getoption("kubeproof_json"):
        reporting.write_json(Path(config.getoption("kubeproof_json")), doc)
    if config.getoption("oscal"):
        oscal.write(Path(config.getoption("oscal")), results, meta)
    if config.getoption("sarif"):
        sarif.write(Path(config.getoption("sarif")), doc)
    if config.getoption("hdf"):
        hdf.write(Path(config.getoption("hdf")), doc)
    _write_auditor_report(session, doc)


def _write_auditor_report(session: pytest.Session, doc: dict[str, Any]) -> None:
    """The auditor report as HTML and/or PDF; a PDF that cannot be printed is one line in
    the terminal summary and exit status 4, never a traceback."""
    config = session.config
    html, pdf_path = config.getoption("kubeproof_html"), config.getoption("kubeproof_pdf")
    if html:
        auditreport.write(Path(html), doc)
    if not pdf_path:
        return
    try:
        if html:
            pdf.print_pdf(Path(html), Path(pdf_path))
            return
        with tempfile.TemporaryDirectory(prefix="kubeproof-audit-") as tmp:
            source = Path(tmp, "audit.html")
            auditreport.write(source, doc)
            pdf.print_pdf(source, Path(pdf_path))
    except KubeproofError as exc:
        config.stash.setdefault(REPORT_ERRORS, []).append(str(exc))
        session.exitstatus = KubeproofError.exit_code


def _add_report_metadata(config: pytest.Config, meta: dict[str, Any]) -> None:
    """The run's metadata as JUnit testsuite properties and pytest-html environment rows."""
    from _pytest.junitxml import xml_key

    xml = config.stash.get(xml_key, None)
    if xml is not None:
        for name, value in reporting.junit_global_properties(meta):
            xml.add_global_property(name, value)
    if config.pluginmanager.has_plugin("metadata"):
        from pytest_metadata.plugin import metadata_key

        cluster = meta["cluster"] or {}
        config.stash[metadata_key].update({
            "kubeproof cluster": cluster.get("server") or "not contacted",
            "kubeproof Kubernetes version": cluster.get("version") or "not contacted",
            "kubeproof node OS": identity.node_os_summary(meta["cluster"]),
            "kubeproof result": meta["gate"]["line"],
        })


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_header(cells: list[str]) -> None:
    reporting.html_header(cells)


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_summary(prefix: list[str], summary: list[str], postfix: list[str],
                                session: pytest.Session) -> None:
    config = session.config
    prefix.append(htmlsummary.render(config.stash[RESULTS], config.stash.get(META, {})))

