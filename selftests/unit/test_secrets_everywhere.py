"""Secrets seeded in evidence (component flags, environment, process command lines,
kubeconfig text, log lines), failure messages, skip reasons and captured output reach no
output: terminal, pytest-html, the auditor HTML, JSON, JUnit, OSCAL, SARIF, HDF, PDF text."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

# Every secret value; each one holds the marker, so a leak of any part of it is found too.
MARKER = "5ecret"
SECRETS = {
    "token_flag": "tok-flag-5ecret",
    "token_word": "tok-word-5ecret",
    "bearer": "bearer-5ecret-abc",
    "url_password": "url-pa55-5ecret",
    "pem_body": "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC5ecretKEYmaterial",
    "jwt": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJvaWRjIn0.c2lnLTVlY3JldC1zaWc",
    "oidc_unsigned": "eyJhbGciOiJub25lIn0.eyJpc3MiOiJodHRwczovL2lkcC01ZWNyZXQifQ",
    "password_flag": "pw-flag-5ecret",
    "secret_flag": "sec-flag-5ecret",
    "oidc_secret": "oidc-5ecret",
    "env_password": "env-5ecret",
    "env_aws": "aws-5ecret",
    "kubeconfig_token": "kc-tok-5ecret",
    "kubeconfig_key": "kc-key-5ecret",
    "log_password": "log-pw-5ecret",
}
S = SECRETS
PEM = f"-----BEGIN RSA PRIVATE KEY-----\n{S['pem_body']}\n-----END RSA PRIVATE KEY-----"
SEEDS = {
    "flags": ["kube-apiserver", f"--token={S['token_flag']}", "--token", S["token_word"],
              f"--db-password={S['password_flag']}", f"--oidc-client-secret {S['oidc_secret']}",
              "--authorization-mode=Node,RBAC"],
    "env": [{"name": "DB_PASSWORD", "value": S["env_password"]}, {"name": "HOME", "value": "/"}],
    "env_map": {"AWS_SECRET_ACCESS_KEY": S["env_aws"], "PATH": "/usr/bin"},
    "cmdline": (f"/usr/bin/agent --token {S['token_word']} secret={S['secret_flag']} "
                f"--endpoint https://admin:{S['url_password']}@registry.example/v2"),
    "kubeconfig": (f"apiVersion: v1\nkind: Config\nusers:\n- name: admin\n  user:\n"
                   f"    token: {S['kubeconfig_token']}\n"
                   f"    client-key-data: {S['kubeconfig_key']}\n"
                   f"    id-token: {S['oidc_unsigned']}\n"),
    "log": [f"GET /api Authorization: Bearer {S['bearer']}",
            f"login password={S['log_password']} ok", f"sa token {S['jwt']}", PEM],
}

CASES = '''
import json
import pathlib

import pytest
import kubeproof

SEEDS = json.loads((pathlib.Path(__file__).parent / "seeds.json").read_text())


@kubeproof.control("tls.components")
def test_flags_pass(evidence):
    """The components' flags were read."""
    for name in ("flags", "env", "env_map", "cmdline", "kubeconfig", "log"):
        evidence.add(name, SEEDS[name])


@kubeproof.control("auth.anonymous-disabled")
def test_fails_with_secrets(evidence):
    """A failure whose message and output carry secrets."""
    for name in ("flags", "cmdline", "log"):
        evidence.add(name, SEEDS[name])
    print(SEEDS["kubeconfig"])
    print("\\n".join(SEEDS["log"]))
    assert False, "served: " + SEEDS["log"][0] + " " + SEEDS["cmdline"]


@kubeproof.control("host.firewall")
def test_inconclusive_with_secrets(evidence):
    evidence.add("env", SEEDS["env"])
    raise kubeproof.Inconclusive("cannot run " + SEEDS["cmdline"])


@kubeproof.control("host.hids")
def test_skips_with_secrets(evidence):
    pytest.skip("no access with " + SEEDS["flags"][1])
'''

OUTPUTS = {"JSON": "r.json", "pytest-html": "r.html", "JUnit": "r.xml", "OSCAL": "ar.json",
           "SARIF": "r.sarif", "HDF": "r.hdf.json", "auditor HTML": "audit.html"}


def _leaks(text: str) -> list[str]:
    found = [name for name, value in SECRETS.items() if value in text]
    return found or ([MARKER] if MARKER in text else [])


def test_no_seeded_secret_reaches_any_output(pytester):
    pytester.makepyfile(test_cases=CASES)
    (pytester.path / "seeds.json").write_text(json.dumps(SEEDS))
    pdf = shutil.which("chromium") and shutil.which("pdftotext")
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "-rA", "-v", "--kubeproof-json=r.json", "--html=r.html",
        "--self-contained-html", "--junitxml=r.xml", "--oscal=ar.json", "--sarif=r.sarif",
        "--hdf=r.hdf.json", "--kubeproof-html=audit.html",
        *(["--kubeproof-pdf=audit.pdf"] if pdf else []))
    texts = {"terminal": "\n".join(result.outlines + result.errlines)}
    texts.update({name: (pytester.path / path).read_text() for name, path in OUTPUTS.items()})
    if pdf:
        texts["PDF text"] = subprocess.run(["pdftotext", str(pytester.path / "audit.pdf"), "-"],
                                           capture_output=True, text=True, check=True,
                                           timeout=60).stdout
    leaks = {name: _leaks(text) for name, text in texts.items() if _leaks(text)}
    assert leaks == {}
    # The run really carried the seeded evidence, masked: a report without it proves nothing.
    doc = json.loads(texts["JSON"])
    assert {t["verdict"] for t in doc["tests"]} == {"pass", "fail", "error", "skip"}
    evidence = {e["label"]: e["value"] for t in doc["tests"] for e in t["evidence"]}
    assert evidence["flags"][-1] == "--authorization-mode=Node,RBAC"
    assert evidence["env"][1] == {"name": "HOME", "value": "/"}
    assert "https://admin:<redacted>@registry.example/v2" in evidence["cmdline"]
    assert texts["auditor HTML"].count("&lt;redacted&gt;") >= 20
    assert "Captured stdout call" in texts["terminal"]
    if not pdf:
        pytest.skip("PDF not checked: chromium or pdftotext (poppler-utils) is missing")
    assert "redacted" in texts["PDF text"]


@pytest.mark.parametrize("name", sorted(SECRETS))
def test_each_seed_would_be_found(name):
    """The leak check can fail: each secret, left in a text, is reported."""
    assert _leaks(f"x {SECRETS[name]} y") == [name]
