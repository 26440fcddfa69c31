"""Reports for auditors on the local cluster: real controls run with a waiver that applies, one
that is stale and one that expired; the exit codes, the OSCAL, SARIF and HDF documents
(schema-valid), the auditor report and its PDF, and the HTML report as headless Chromium
renders it."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from kubeproof import catalogue, hdf, oscal, sarif
from kubeproof.localcluster import layout as L

REPO = Path(__file__).resolve().parents[2]
FAILS = "host.immutable-os"  # this VM is Debian with a writable /usr: the control fails
PASSES = "rbac.app-user-denied-kube-system"
EXPIRED = "rbac.authorization-mode"
CONTROLS = (FAILS, PASSES, EXPIRED)


def waiver(control: str, expires: str, scope: str = "") -> str:
    return (f"  - control: {control}\n{scope}    justification: accepted risk, ticket SEC-7\n"
            f"    approver: Jane Auditor (CISO)\n    expires: {expires}\n")


APPLIES = waiver(FAILS, "2999-12-31", f"    scope: {{node: {L.NODE_NAME}}}\n")
STALE = waiver(PASSES, "2999-12-31")
EXPIRES = waiver(EXPIRED, "2020-01-31")


def run_suite(out: Path, waivers: str, *args: str,
              controls: tuple[str, ...] = CONTROLS) -> subprocess.CompletedProcess:
    """The acceptance suite on the local target (reusing the running cluster), selected
    controls only, every report written under out/."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "waivers.yaml").write_text("waivers:\n" + waivers)
    # Paths as --option=PATH: pytest reads its rootdir before plugin options are known, so a
    # separate existing PATH would be taken for a test path and move the rootdir.
    # --keep-cluster: should the run have to start the cluster, it must not tear it down.
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-m",
               "acceptance", "--keep-cluster", *[f"--control={c}" for c in controls],
               f"--waivers={out / 'waivers.yaml'}", f"--kubeproof-json={out / 'r.json'}",
               f"--oscal={out / 'ar.json'}", f"--junitxml={out / 'r.xml'}",
               f"--html={out / 'r.html'}", "--self-contained-html",
               f"--kubeproof-html={out / 'audit.html'}", f"--sarif={out / 'r.sarif'}",
               f"--hdf={out / 'r.hdf.json'}", *args]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def waived_run(local_cluster, tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    proc = run_suite(out, APPLIES + STALE + EXPIRES, "-n", "2")
    return proc, out, json.loads((out / "r.json").read_text())


def test_stale_and_expired_waivers_fail_the_run(waived_run):
    proc, _, doc = waived_run
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert [(w["control"], w["status"]) for w in doc["waivers"]] == [
        (FAILS, "applied"), (PASSES, "stale"), (EXPIRED, "expired")]
    verdicts = {c["id"]: c["verdict"] for c in doc["controls"] if c["id"] in CONTROLS}
    assert verdicts == {FAILS: "waived", PASSES: "pass", EXPIRED: "pass"}, doc["tests"]
    assert doc["gate"]["reasons"] == [doc["waivers"][1]["message"], doc["waivers"][2]["message"]]
    assert "is stale: the control passes" in doc["gate"]["reasons"][0]
    assert "expired on 2020-01-31 (approved by Jane Auditor (CISO))" in doc["gate"]["reasons"][1]
    assert "waiver #2 (rbac.app-user-denied-kube-system) is stale" in proc.stdout


def test_cluster_identity_is_recorded(waived_run):
    _, _, doc = waived_run
    cluster = doc["cluster"]
    assert cluster["server"].startswith("https://")
    assert cluster["version"].startswith("v1.")
    assert [n["name"] for n in cluster["nodes"]] == [L.NODE_NAME]
    assert cluster["nodes"][0]["os_image"]


def test_oscal_document_is_schema_valid(waived_run):
    _, out, doc = waived_run
    document = json.loads((out / "ar.json").read_text())
    assert oscal.validate(document) == []
    [result] = document["assessment-results"]["results"]
    findings = {f["target"]["target-id"]: f["target"]["status"] for f in result["findings"]}
    assert findings == {FAILS: {"state": "not-satisfied", "reason": "other"},
                        PASSES: {"state": "satisfied", "reason": "pass"},
                        EXPIRED: {"state": "satisfied", "reason": "pass"}}
    assert len(result["observations"]) == len(doc["tests"])
    assert all(o.get("relevant-evidence") for o in result["observations"])


def test_sarif_and_hdf_are_schema_valid(waived_run):
    _, out, doc = waived_run
    log = json.loads((out / "r.sarif").read_text())
    assert sarif.validate(log) == []
    [run] = log["runs"]
    assert {r["id"] for r in run["tool"]["driver"]["rules"]} == set(CONTROLS)
    # the waived failures are the only results, each suppressed by its waiver
    waived = [t["nodeid"] for t in doc["tests"] if t["verdict"] == "waived"]
    assert sorted(r["partialFingerprints"]["kubeproofTest/v1"] for r in run["results"]) == \
        sorted(waived)
    assert waived
    for result in run["results"]:
        assert result["ruleId"] == FAILS
        assert result["suppressions"][0]["status"] == "accepted"
    document = json.loads((out / "r.hdf.json").read_text())
    assert hdf.validate(document) == []
    controls = {c["id"]: c for c in document["profiles"][0]["controls"]}
    tests = {c: [t for t in doc["tests"] if t["control"] == c] for c in CONTROLS}
    for control in CONTROLS:
        assert len(controls[control]["results"]) == len(tests[control]), control
    assert {r["status"] for r in controls[PASSES]["results"]} == {"passed"}
    assert document["platform"]["target_id"] == doc["cluster"]["server"]


def test_auditor_report_has_each_control_and_prints(waived_run):
    _, out, doc = waived_run
    html = (out / "audit.html").read_text()
    for text in [doc["run_id"], doc["cluster"]["server"], doc["cluster"]["version"],
                 doc["cluster"]["nodes"][0]["os_image"], "gate FAILED", "Jane Auditor (CISO)",
                 *(f'id="control-{c}"' for c in CONTROLS)]:
        assert text in html, text
    assert "Traceback" not in html and "<script" not in html
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext is missing: apt-get install -y poppler-utils")
    pdf = out / "audit.pdf"
    subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                    f"--user-data-dir={out / 'chromium-profile'}", f"--print-to-pdf={pdf}",
                    (out / "audit.html").as_uri()], capture_output=True, timeout=120, check=True)
    text = " ".join(subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                                   check=True, timeout=60).stdout.split())
    for control in CONTROLS:
        assert catalogue.get(control).title in text, control


def test_a_waiver_that_applies_keeps_the_run_green(local_cluster, tmp_path):
    proc = run_suite(tmp_path, APPLIES, controls=(FAILS,))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    doc = json.loads((tmp_path / "r.json").read_text())
    assert {t["verdict"] for t in doc["tests"] if t["control"] == FAILS} == {"waived"}
    proc = run_suite(tmp_path, APPLIES + STALE, "--fail-on=never", controls=(FAILS, PASSES))
    assert proc.returncode == 0, proc.stdout[-3000:]


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("headless Chromium is missing: apt-get install -y chromium")
    return path


def headless(out: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--user-data-dir={out / 'chromium-profile'}", *args,
         (out / "r.html").as_uri()],
        capture_output=True, text=True, timeout=120, check=True)


def test_html_report_renders_in_chromium(waived_run):
    _, out, doc = waived_run
    dom = headless(out, "--virtual-time-budget=5000", "--dump-dom").stdout
    for text in ['id="kubeproof-header"', 'id="kubeproof-summary"', 'id="kubeproof-areas"',
                 'id="kubeproof-waivers"', doc["run_id"], doc["cluster"]["server"],
                 doc["cluster"]["nodes"][0]["os_image"], "gate FAILED", "stale", "expired",
                 "TLS everywhere", "network policies"]:
        assert text in dom, text
    # The results table is built by the report's JavaScript: its rows exist only if it ran.
    assert dom.count('class="col-control"') == len(doc["tests"])
    assert 'class="kubeproof-waived"' in dom
    shot = out / "report.png"
    headless(out, "--window-size=1400,1800", f"--screenshot={shot}")
    width, height, pixels = read_png(shot.read_bytes())
    assert (width, height) == (1400, 1800)
    # A blank page gives 1 colour and no ink; the rendered report ~200 colours, ~2% ink.
    colours = {pixels[i:i + 3] for i in range(0, len(pixels), 3 * 97)}
    ink = sum(1 for i in range(0, len(pixels), 3 * 7) if sum(pixels[i:i + 3]) < 600)
    assert len(colours) > 20, f"the screenshot is nearly blank ({len(colours)} colours)"
    assert ink > 3000, f"the screenshot shows almost no text ({ink} inked samples)"


def read_png(data: bytes) -> tuple[int, int, bytes]:
    """Width, height and RGB bytes of an 8-bit RGB/RGBA non-interlaced PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    channels = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(idat), width * channels
    rows, previous, i = [], bytearray(stride), 0
    for _ in range(height):
        kind, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - channels] if x >= channels else 0
            b = previous[x]
            c = previous[x - channels] if x >= channels else 0
            if kind == 1:
                line[x] = (line[x] + a) & 255
            elif kind == 2:
                line[x] = (line[x] + b) & 255
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line) if channels == 3 else
                    b"".join(line[x:x + 3] for x in range(0, stride, 4)))
        previous = line
    return width, height, b"".join(rows)
