"""The auditor report as PDF (--kubeproof-pdf PATH): headless Chromium prints the HTML."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from kubeproof.errors import KubeproofError

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT = 120


def browser() -> str:
    """The headless browser to print with ($KUBEPROOF_CHROMIUM, else chromium on PATH);
    KubeproofError naming the fix when there is none."""
    wanted = os.environ.get("KUBEPROOF_CHROMIUM")
    found = shutil.which(wanted) if wanted else next(
        (p for p in map(shutil.which, BROWSERS) if p), None)
    if not found:
        raise KubeproofError(
            f"--kubeproof-pdf needs headless Chromium and found "
            f"{repr(wanted) + ' (KUBEPROOF_CHROMIUM)' if wanted else 'none on PATH'}: "
            f"apt-get install -y chromium (or set KUBEPROOF_CHROMIUM), or drop --kubeproof-pdf")
    return found


def print_pdf(html: Path, pdf: Path) -> None:
    """Print an HTML file to a PDF file; KubeproofError with one line when it fails."""
    command = browser()
    pdf.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kubeproof-chromium-") as profile:
        try:
            proc = subprocess.run(
                [command, "--headless", "--no-sandbox", "--disable-gpu",
                 "--no-pdf-header-footer", f"--user-data-dir={profile}",
                 f"--print-to-pdf={pdf.resolve()}", html.resolve().as_uri()],
                capture_output=True, text=True, timeout=TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            raise KubeproofError(f"{command} did not print {html} within {TIMEOUT}s") from None
    if proc.returncode != 0 or not pdf.is_file() or pdf.stat().st_size == 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise KubeproofError(f"{command} could not print {html} to {pdf} "
                             f"(exit {proc.returncode}): {last}")
