"""The local cluster's identity provider files: no password in the realm, the API server's
JWT authenticator refusing system: names, and the app kubeconfig renewed only when due."""

from __future__ import annotations

import base64
import json
import time

import yaml

from kubeproof.localcluster import oidc, pki
from kubeproof.localcluster.layout import Layout


def _part(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _jwt(claims: dict) -> str:
    """An unsigned JWT with these claims (the renewal reads exp only)."""
    return f"{_part({'alg': 'none'})}.{_part(claims)}.sig"


def test_written_files_keep_the_password_out_of_the_realm(tmp_path):
    layout = Layout(tmp_path)
    layout.make_dirs()
    pki.create_pki(layout.pki)
    oidc.write_files(layout)
    password = oidc.password_file(layout).read_text()
    realm = oidc.realm_file(layout).read_text()
    assert len(password) >= 24 and password not in realm
    assert "${" + oidc.PASSWORD_ENV + "}" in realm
    for path in (oidc.password_file(layout), oidc.realm_file(layout),
                 layout.config / "authentication.yaml"):
        assert path.stat().st_mode & 0o077 == 0, path
    config = yaml.safe_load((layout.config / "authentication.yaml").read_text())
    issuer = config["jwt"][0]["issuer"]
    assert issuer["url"] == oidc.ISSUER and issuer["audiences"] == [oidc.CLIENT_ID]
    assert issuer["certificateAuthority"] == (layout.pki / "oidc-ca.crt").read_text()
    rules = " ".join(r["expression"] for r in config["jwt"][0]["userValidationRules"])
    assert "user.username.startsWith('system:')" in rules and "user.groups.all" in rules


def test_app_kubeconfig_is_renewed_only_when_its_token_runs_out(tmp_path, monkeypatch):
    layout = Layout(tmp_path)
    layout.make_dirs()
    fresh = _jwt({"exp": time.time() + oidc.TOKEN_LIFESPAN})
    monkeypatch.setattr(oidc, "app_token", lambda _layout: fresh)
    oidc.write_app_kubeconfig(layout)
    assert oidc.current_token(layout.app_kubeconfig) == fresh
    monkeypatch.setattr(oidc, "app_token", lambda _layout: "not asked for")
    oidc.write_app_kubeconfig(layout)
    assert oidc.current_token(layout.app_kubeconfig) == fresh
    due = _jwt({"exp": time.time() + oidc.RENEW_BEFORE - 60})
    layout.app_kubeconfig.write_text(layout.app_kubeconfig.read_text().replace(fresh, due))
    monkeypatch.setattr(oidc, "app_token", lambda _layout: fresh)
    oidc.write_app_kubeconfig(layout)
    assert oidc.current_token(layout.app_kubeconfig) == fresh
