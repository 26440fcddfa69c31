"""--kubeproof-pdf: headless Chromium prints the auditor report; its text layer has the cover
and every assessed control's title, its pages render (a cover, the summary, a page per
control); a missing browser is one line and exit 4."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from auditcases import VERDICTS, run_cases

from kubeproof import catalogue


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is missing: apt-get install -y {package} "
                    f"(provision/local/bootstrap.sh installs it)")
    return path


@pytest.fixture
def printed(pytester):
    _tool("chromium", "chromium")
    _, doc = run_cases(pytester, "--kubeproof-pdf=out/audit.pdf")
    return doc, pytester.path / "out" / "audit.pdf"


def _text(pdf) -> str:
    text = subprocess.run([_tool("pdftotext", "poppler-utils"), "-layout", str(pdf), "-"],
                          capture_output=True, text=True, check=True, timeout=60).stdout
    return text


def test_pdf_has_the_cover_every_control_title_and_renders(printed, tmp_path):
    doc, pdf = printed
    assert pdf.read_bytes().startswith(b"%PDF-")
    pages = _text(pdf).split("\f")
    cover = " ".join(pages[0].split())
    for text in ["Kubernetes security controls assessment", doc["run_id"],
                 "gate FAILED (--fail-on fail, exit 1)", "kubeproof version"]:
        assert text in cover, text
    flat = " ".join(" ".join(pages).split())
    for control in VERDICTS:
        assert catalogue.get(control).title in flat, control
    assert "Traceback" not in flat and "AssertionError" not in flat
    # the pages: each control begins one, and the first ones render with ink on them
    starts = [i for i, page in enumerate(pages)
              if any(" ".join(page.split()).lstrip().startswith(catalogue.get(c).title)
                     for c in VERDICTS)]
    assert len(starts) == len(VERDICTS), "each control begins a page"
    subprocess.run([_tool("pdftoppm", "poppler-utils"), "-r", "30", "-gray", "-f", "1",
                    "-l", "3", str(pdf), str(tmp_path / "page")], check=True, timeout=120)
    rendered = sorted(tmp_path.glob("page-*.pgm"))
    assert len(rendered) == 3
    for image in rendered:
        width, height, pixels = _pgm(image.read_bytes())
        ink = sum(1 for p in pixels if p < 128)
        assert width > 200 and height > 300
        assert ink > 200, f"{image.name} is nearly blank ({ink} dark pixels)"


def _pgm(data: bytes) -> tuple[int, int, bytes]:
    """Width, height and grey bytes of a binary PGM (P5) with maxval 255."""
    match = re.match(rb"P5\s+(\d+)\s+(\d+)\s+255\s", data)
    assert match, data[:20]
    width, height = int(match.group(1)), int(match.group(2))
    return width, height, data[match.end():match.end() + width * height]


def test_missing_chromium_is_one_line_and_exit_4(pytester, monkeypatch):
    from test_bad_input import one_line_error

    monkeypatch.setenv("KUBEPROOF_CHROMIUM", "/nonexistent/chromium")
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--kubeproof-pdf=a.pdf")
    line = one_line_error(result)
    assert line == ("ERROR: --kubeproof-pdf needs headless Chromium and found "
                    "'/nonexistent/chromium' (KUBEPROOF_CHROMIUM): apt-get install -y chromium "
                    "(or set KUBEPROOF_CHROMIUM), or drop --kubeproof-pdf")
    assert not (pytester.path / "a.pdf").exists()


def test_a_browser_that_cannot_print_is_one_line_and_exit_4(pytester, monkeypatch):
    monkeypatch.setenv("KUBEPROOF_CHROMIUM", shutil.which("false"))
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "--kubeproof-pdf=a.pdf",
                                "--kubeproof-html=a.html")
    assert result.ret == 4
    output = "\n".join(result.outlines + result.errlines)
    assert "Traceback" not in output
    [line] = [line for line in result.outlines if "could not print" in line]
    assert line.startswith(f"kubeproof: {shutil.which('false')} could not print ")
    assert "(exit 1): no output" in line
    assert (pytester.path / "a.html").is_file() and not (pytester.path / "a.pdf").exists()
