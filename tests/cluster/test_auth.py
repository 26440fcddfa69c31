"""Authentication controls: no anonymous access, users come from an external identity
provider (checklist item 3)."""

from __future__ import annotations

import pytest
import requests
import yaml

import kubeproof
from kubeproof.kube import REQUEST_TIMEOUT, jwt_claims

# Paths an anonymous client must not be served; /version is what the default RBAC lets
# system:unauthenticated read when anonymous auth is on.
ANONYMOUS_PATHS = {
    "version": "/version",
    "api-discovery": "/api",
    "kube-system-secrets": "/api/v1/namespaces/kube-system/secrets",
}


@kubeproof.control("auth.anonymous-disabled")
@pytest.mark.parametrize("path", list(ANONYMOUS_PATHS.values()), ids=list(ANONYMOUS_PATHS))
def test_anonymous_request_is_refused(admin_api, api_server, evidence, path):
    """An anonymous request to the API server is refused (401/403), not served."""
    query = [("limit", "1")] if "secrets" in path else []
    with evidence.canary(f"the admin gets GET {path}", guard=f"GET {path} is served"):
        admin = admin_api.request("GET", path, query=query)
        evidence.add("as admin", f"{admin.request} -> {admin.status}")
        assert admin.status == 200, f"{admin.request} -> {admin.status} {admin.message}"
    url = api_server.url + path
    # No client certificate, no token: only the CA, to verify the server.
    anonymous = requests.get(url, params=query, verify=api_server.ca_file,
                             timeout=REQUEST_TIMEOUT)
    kubeproof.expect_denied(evidence, f"anonymous GET {url}",
                            denied=anonymous.status_code in (401, 403),
                            detail=f"{anonymous.status_code} {anonymous.text[:200]!r}",
                            guard=f"GET {path} is served")


def _authentication_config_has_jwt(request, path: str) -> bool:
    """Whether an AuthenticationConfiguration file (read on the node) names a JWT issuer."""
    _, text = request.getfixturevalue("node_text")(path)
    return bool((yaml.safe_load(text) or {}).get("jwt"))


@kubeproof.control("auth.third-party")
def test_external_identity_provider_configured(request, apiserver_flags, evidence):
    """The API server authenticates users through OIDC or a webhook authenticator."""
    with evidence.canary("kube-apiserver flags were read"):
        assert apiserver_flags.get("secure-port") or apiserver_flags.get("etcd-servers"), \
            apiserver_flags
    shown = {f: apiserver_flags.get(f) for f in (
        "oidc-issuer-url", "authentication-token-webhook-config-file", "authentication-config")}
    evidence.add("authenticator flags", shown)
    external = bool(shown["oidc-issuer-url"] or shown["authentication-token-webhook-config-file"])
    if not external and shown["authentication-config"]:
        external = _authentication_config_has_jwt(request, shown["authentication-config"])
        evidence.add("AuthenticationConfiguration names a JWT issuer", external)
    assert external, ("no external identity provider: none of --oidc-issuer-url, "
                      "--authentication-token-webhook-config-file, or a JWT issuer in "
                      "--authentication-config is set (only client certificates and service "
                      "account tokens authenticate users)")


@kubeproof.control("auth.third-party")
@pytest.mark.parametrize("flag", ["token-auth-file", "basic-auth-file"])
def test_no_static_credential_file(apiserver_flags, evidence, flag):
    """The API server uses no static token or password file."""
    with evidence.canary("kube-apiserver flags were read"):
        assert apiserver_flags.get("secure-port") or apiserver_flags.get("etcd-servers"), \
            apiserver_flags
    value = apiserver_flags.get(flag)
    evidence.add(f"--{flag}", value if value is not None else "(absent)")
    assert not value, f"kube-apiserver --{flag}={value}: static credentials never expire"


def _bearer_jwt_claims(app_api) -> dict | None:
    """The claims of the app identity's bearer token when it is a JWT, else None."""
    if app_api.identity.impersonate_user:
        return None
    keys = app_api.api.configuration.api_key
    token = (keys.get("BearerToken") or keys.get("authorization") or "").removeprefix(
        "Bearer ").strip()
    return jwt_claims(token)


@kubeproof.control("auth.third-party")
def test_app_user_signs_in_with_the_identity_providers_token(cluster, admin_api, app_api,
                                                             apiserver_flags, evidence):
    """The app user's credential is an ID token of an external identity provider (not a
    certificate or a service account token), and the API server accepts it as the app user."""
    claims = _bearer_jwt_claims(app_api)
    if claims is None:
        pytest.skip("the app identity presents no ID token (it is a client certificate or "
                    "impersonated): this check needs the app user's own token from the "
                    "identity provider (--app-kubeconfig)")
    shown = {k: claims.get(k) for k in ("iss", "aud", "azp", "preferred_username", "groups")}
    evidence.add("the app user's token (claims as presented, not verified)", shown)
    own_issuer = apiserver_flags.get("service-account-issuer")
    assert claims.get("iss") and claims["iss"] != own_issuer, (
        f"the app user's token is issued by the API server itself ({claims.get('iss')}): "
        f"a service account token, not an external identity provider's")
    with evidence.canary("the admin's SelfSubjectReview is answered"):
        admin = admin_api.self_review()
        assert admin.status == 201, f"{admin.request} -> {admin.status} {admin.message}"
    review = app_api.self_review()
    user = review.body["status"].get("userInfo", {}) if review.status == 201 else {}
    evidence.add("SelfSubjectReview with the app user's token",
                 f"{review.request} -> {review.status}; userInfo {user or review.message}")
    assert review.status == 201, (
        f"the API server does not accept the identity provider's token (issuer "
        f"{claims['iss']}): {review.status} {review.message}")
    assert user.get("username") == cluster.app_user, \
        f"the token authenticates as {user.get('username')!r}, not {cluster.app_user!r}"
