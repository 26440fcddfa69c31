"""The local cluster's identity provider: Keycloak with a realm holding the app user, the API
server's JWT authenticator for it, and the app user's ID token (the controls' app identity).

Keycloak imports the realm at every start (its database is in memory); the app user's
password is made at bring-up, kept in the PKI directory (mode 0600) and handed to Keycloak
through its environment, never written into the realm file.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from pathlib import Path

import requests
import yaml

from ..errors import KubeproofError
from ..kube import jwt_claims
from . import configs
from . import layout as L
from .layout import Layout
from .readiness import https_ok

REALM = "kubeproof"
PORT = 8443
BASE_URL = f"https://{L.NODE_IP}:{PORT}"
ISSUER = f"{BASE_URL}/realms/{REALM}"
CLIENT_ID = "kubernetes"
PASSWORD_ENV = "KUBEPROOF_APP_PASSWORD"
# Tokens live an hour; the app kubeconfig is renewed when less than this is left.
TOKEN_LIFESPAN = 3600
RENEW_BEFORE = 1200


def realm() -> dict:
    """The realm Keycloak imports: the app user in its group, and a public client whose ID
    tokens carry the audience, the username and the groups the API server maps."""
    mapper = {"protocol": "openid-connect", "config": {
        "access.token.claim": "true", "id.token.claim": "true"}}
    return {
        "realm": REALM,
        "enabled": True,
        "sslRequired": "all",
        "accessTokenLifespan": TOKEN_LIFESPAN,
        "groups": [{"name": L.APP_GROUP}],
        "users": [{
            "username": L.APP_USER, "enabled": True, "emailVerified": True,
            "email": f"{L.APP_USER}@kubeproof.test", "firstName": L.APP_USER,
            "lastName": "app", "groups": [L.APP_GROUP],
            "credentials": [{"type": "password", "value": "${" + PASSWORD_ENV + "}",
                             "temporary": False}],
        }],
        "clients": [{
            "clientId": CLIENT_ID, "enabled": True, "publicClient": True,
            "standardFlowEnabled": False, "directAccessGrantsEnabled": True,
            "protocolMappers": [
                {**mapper, "name": "groups", "protocolMapper": "oidc-group-membership-mapper",
                 "config": {**mapper["config"], "claim.name": "groups", "full.path": "false"}},
                {**mapper, "name": "audience", "protocolMapper": "oidc-audience-mapper",
                 "config": {**mapper["config"], "included.client.audience": CLIENT_ID}},
            ],
        }],
    }


def authentication_config(ca_pem: str) -> dict:
    """The API server's AuthenticationConfiguration: one JWT authenticator for the issuer,
    usernames and groups from its claims, none of them in the reserved system: space."""
    return {
        "apiVersion": "apiserver.config.k8s.io/v1",
        "kind": "AuthenticationConfiguration",
        "jwt": [{
            "issuer": {"url": ISSUER, "audiences": [CLIENT_ID], "certificateAuthority": ca_pem},
            "claimValidationRules": [{"expression": "claims.email_verified == true",
                                      "message": "the email address is not verified"}],
            "claimMappings": {
                "username": {"claim": "preferred_username", "prefix": ""},
                "groups": {"claim": "groups", "prefix": ""},
                "uid": {"claim": "sub"},
            },
            "userValidationRules": [
                {"expression": "!user.username.startsWith('system:')",
                 "message": "usernames of the identity provider may not use system:"},
                {"expression": "user.groups.all(group, !group.startsWith('system:'))",
                 "message": "groups of the identity provider may not use system:"},
            ],
        }],
    }


def password_file(layout: Layout) -> Path:
    return layout.pki / f"{L.APP_USER}.password"


def realm_file(layout: Layout) -> Path:
    return layout.config / "oidc-realm.json"


def write_files(layout: Layout) -> None:
    """Writes the realm, the app user's new password and the API server's authentication
    configuration (after the PKI, whose oidc-ca signs Keycloak's certificate)."""
    for path, text in (
        (realm_file(layout), json.dumps(realm(), indent=2)),
        (password_file(layout), secrets.token_urlsafe(24)),
        (layout.config / "authentication.yaml", yaml.safe_dump(
            authentication_config((layout.pki / "oidc-ca.crt").read_text()), sort_keys=False)),
    ):
        configs.write_file(path, text)


def argv(kc_sh: Path, layout: Layout) -> list[str]:
    """Keycloak's command line: HTTPS only, on the node address, the issuer's hostname, one
    node's local cache (no cluster discovery at start)."""
    return [str(kc_sh), "start", "--optimized", "--cache=local", f"--http-host={L.NODE_IP}",
            f"--https-port={PORT}", "--http-enabled=false", f"--hostname={BASE_URL}",
            f"--https-certificate-file={layout.pki / 'oidc-server.crt'}",
            f"--https-certificate-key-file={layout.pki / 'oidc-server.key'}"]


def environment(kc_sh: Path, layout: Layout) -> dict[str, str]:
    """Keycloak's environment: Java on PATH, its options (the class-data archive of its build,
    the realm import) and the app user's password."""
    java = shutil.which("java")
    if java is None:
        raise KubeproofError("local cluster: Keycloak needs Java 17+ (java is not on PATH); "
                             "run `make bootstrap`")
    imports = {"action": "import", "provider": "singleFile", "file": realm_file(layout),
               "strategy": "OVERWRITE_EXISTING", "replace-placeholders": "true"}
    java_options = [
        "-XX:TieredStopAtLevel=1",  # C1 only: starts about 4 s sooner on two cores
        # Its transaction log in the state directory, not in the build cache it runs from.
        f"-Dquarkus.transaction-manager.object-store.directory={layout.data / 'keycloak'}",
        *(f"-Dkeycloak.migration.{key}={value}" for key, value in imports.items()),
    ]
    archive = kc_sh.parents[1] / "kubeproof-cds.jsa"
    if archive.exists():
        java_options.append(f"-XX:SharedArchiveFile={archive}")
    return {
        "PATH": f"{Path(os.path.realpath(java)).parent}:/usr/bin:/bin",
        "JAVA_OPTS_APPEND": " ".join(java_options),
        PASSWORD_ENV: password_file(layout).read_text(),
    }


def ready(layout: Layout) -> bool:
    """Whether the issuer serves its discovery document over TLS the oidc-ca vouches for."""
    return https_ok(f"{ISSUER}/.well-known/openid-configuration", layout.pki / "oidc-ca.crt")


def app_token(layout: Layout) -> str:
    """A new ID token of the app user (password grant of the public client)."""
    try:
        answer = requests.post(
            f"{ISSUER}/protocol/openid-connect/token", verify=str(layout.pki / "oidc-ca.crt"),
            data={"grant_type": "password", "client_id": CLIENT_ID, "scope": "openid",
                  "username": L.APP_USER, "password": password_file(layout).read_text()},
            timeout=10)
    except requests.RequestException as exc:
        raise KubeproofError(f"local cluster: the identity provider at {ISSUER} did not "
                             f"answer ({exc.__class__.__name__})") from None
    if not answer.ok:
        raise KubeproofError(f"local cluster: the identity provider refused the app user's "
                             f"token request ({answer.status_code} "
                             f"{answer.json().get('error', '') if answer.content else ''})")
    return answer.json()["id_token"]


def expires_at(token: str) -> float:
    """A JWT's exp claim (read, not verified: the API server verifies it); 0 when it has none."""
    return float((jwt_claims(token) or {}).get("exp", 0))


def current_token(kubeconfig: Path) -> str | None:
    """The bearer token a kubeconfig's first user holds, if any."""
    if not kubeconfig.exists():
        return None
    users = (yaml.safe_load(kubeconfig.read_text()) or {}).get("users") or [{}]
    return users[0].get("user", {}).get("token")


def write_app_kubeconfig(layout: Layout) -> None:
    """Writes the app kubeconfig with a new ID token, unless the one it holds lives on for
    RENEW_BEFORE seconds or more (a run reusing a kept cluster renews it)."""
    token = current_token(layout.app_kubeconfig)
    if token and expires_at(token) - time.time() > RENEW_BEFORE:
        return
    configs.write_kubeconfig(layout.app_kubeconfig, layout.pki, L.APP_USER,
                             L.API_URL, token=app_token(layout))
