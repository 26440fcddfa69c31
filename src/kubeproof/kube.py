"""Kubernetes API helpers: clients for an identity (with impersonation), access checks that
ask and try, and waits by watch with a deadline."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import urllib3
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException
from kubernetes.config import kube_config
from kubernetes.config.config_exception import ConfigException

from kubeproof.errors import KubeproofError
from kubeproof.targets.base import Identity
from kubeproof.verdicts import Inconclusive, expect_denied

# (connect, read) seconds for ordinary requests; watches set their own server-side timeout.
REQUEST_TIMEOUT = (5, 30)


class ImpersonatingApiClient(client.ApiClient):
    """An ApiClient that adds Impersonate-User and one Impersonate-Group header per group."""

    def __init__(self, configuration: client.Configuration, user: str, groups: tuple[str, ...]):
        super().__init__(configuration)
        self.impersonate_user = user
        self.impersonate_groups = groups

    def call_api(self, method, url, header_params=None, body=None, post_params=None,
                 _request_timeout=None):
        headers = urllib3.HTTPHeaderDict(header_params or {})
        headers["Impersonate-User"] = self.impersonate_user
        for group in self.impersonate_groups:
            headers.add("Impersonate-Group", group)
        return super().call_api(method, url, headers, body, post_params, _request_timeout)


def load_configuration(identity: Identity) -> client.Configuration:
    """The client configuration of an identity's kubeconfig and context."""
    configuration = client.Configuration()
    try:
        kube_config.load_kube_config(
            config_file=str(identity.kubeconfig),
            context=identity.context,
            client_configuration=configuration,
            persist_config=False,
        )
    except ConfigException as exc:
        raise KubeproofError(
            f"cannot use kubeconfig {identity.kubeconfig} "
            f"(context {identity.context or 'current'}): {exc}"
        ) from exc
    configuration.retries = 0
    return configuration


def api_client(identity: Identity) -> client.ApiClient:
    """An ApiClient acting as the identity (impersonating when it says so)."""
    configuration = load_configuration(identity)
    if identity.impersonate_user:
        return ImpersonatingApiClient(
            configuration, identity.impersonate_user, identity.impersonate_groups
        )
    return client.ApiClient(configuration)


@dataclass(frozen=True)
class RawResponse:
    """The status and decoded body of one raw API request."""

    request: str
    status: int
    body: Any

    @property
    def message(self) -> str:
        """The API's Status message, or the body's start."""
        if isinstance(self.body, dict):
            return str(self.body.get("message") or self.body.get("reason") or "")[:300]
        return str(self.body)[:300]


def raw_request(api: client.ApiClient, method: str, path: str,
                query: list[tuple[str, str]] | None = None, body: Any = None,
                timeout: Any = REQUEST_TIMEOUT) -> RawResponse:
    """Send one request to an API path and return its status and body, whatever the status."""
    content_type = "application/merge-patch+json" if method == "PATCH" else "application/json"
    serialized = api.param_serialize(
        method=method,
        resource_path=path,
        query_params=query or [],
        header_params={"Accept": "application/json", "Content-Type": content_type},
        body=body,
        auth_settings=["BearerToken"],
    )
    response = api.call_api(*serialized, _request_timeout=timeout)
    response.read()
    text = (response.data or b"").decode("utf-8", "replace")
    try:
        decoded: Any = json.loads(text) if text else None
    except json.JSONDecodeError:
        decoded = text
    shown = path + ("?" + "&".join(f"{k}={v}" for k, v in query) if query else "")
    return RawResponse(f"{method} {shown}", response.status, decoded)


def jwt_claims(token: str) -> dict | None:
    """The claims of a JWT as presented (read, not verified: verifying is the API server's
    job), or None when the token is not a JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    return claims if isinstance(claims, dict) else None


def api_path(resource: str, namespace: str | None = None, name: str | None = None,
             group: str = "", version: str = "v1") -> str:
    """The REST path of a resource collection or object."""
    base = f"/api/{version}" if not group else f"/apis/{group}/{version}"
    if namespace:
        base += f"/namespaces/{namespace}"
    base += f"/{resource}"
    return base + (f"/{name}" if name else "")


# A name no probe creates: reading or deleting it shows authorization without side effects.
ABSENT_NAME = "kubeproof-absent-object"
_VERBS = {"get", "list", "create", "update", "patch", "delete"}


@dataclass(frozen=True)
class AccessResult:
    """Both answers to "may this identity do this?": the access review's and the real request's."""

    identity: str
    verb: str
    resource: str
    namespace: str | None
    review_allowed: bool
    review_reason: str
    request: str
    status: int
    status_message: str

    @property
    def request_allowed(self) -> bool:
        """Whether the real request got past authorization (anything but 403)."""
        return self.status != 403

    @property
    def agree(self) -> bool:
        """Whether the access review and the real request give the same answer."""
        return self.review_allowed == self.request_allowed

    @property
    def denied(self) -> bool:
        """Denied by both the access review and the real request."""
        return not self.review_allowed and not self.request_allowed

    def __str__(self) -> str:
        where = f" in {self.namespace}" if self.namespace else ""
        review = "allowed" if self.review_allowed else "denied"
        reason = f" ({self.review_reason})" if self.review_reason else ""
        return (
            f"{self.identity} {self.verb} {self.resource}{where}: access review {review}{reason}; "
            f"{self.request} -> {self.status} {self.status_message}"
        )


class Clients:
    """The API clients of one identity."""

    def __init__(self, identity: Identity) -> None:
        self.identity = identity
        self.api = api_client(identity)

    @property
    def guard(self) -> str:
        """What a canary of this identity at the API server guards (see api_guard)."""
        return api_guard(self.identity.label)

    @cached_property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    @cached_property
    def apps(self) -> client.AppsV1Api:
        return client.AppsV1Api(self.api)

    @cached_property
    def rbac(self) -> client.RbacAuthorizationV1Api:
        return client.RbacAuthorizationV1Api(self.api)

    @cached_property
    def networking(self) -> client.NetworkingV1Api:
        return client.NetworkingV1Api(self.api)

    @cached_property
    def authorization(self) -> client.AuthorizationV1Api:
        return client.AuthorizationV1Api(self.api)

    @cached_property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api)

    def request(self, method: str, path: str, **kwargs: Any) -> RawResponse:
        """A raw request as this identity (see raw_request)."""
        return raw_request(self.api, method, path, **kwargs)

    def self_review(self) -> RawResponse:
        """This identity's SelfSubjectReview: who the API server takes it for (201 with
        status.userInfo), or the status that refused it."""
        return self.request("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                            body={"apiVersion": "authentication.k8s.io/v1",
                                  "kind": "SelfSubjectReview"})

    def review(self, verb: str, resource: str, namespace: str | None = None,
               group: str = "", name: str | None = None,
               subresource: str = "") -> tuple[bool, str]:
        """This identity's SelfSubjectAccessReview answer: (allowed, reason)."""
        spec = client.V1SelfSubjectAccessReviewSpec(
            resource_attributes=client.V1ResourceAttributes(
                verb=verb, resource=resource, group=group, namespace=namespace, name=name,
                subresource=subresource or None,
            )
        )
        try:
            answer = self.authorization.create_self_subject_access_review(
                client.V1SelfSubjectAccessReview(spec=spec), _request_timeout=REQUEST_TIMEOUT
            )
        except ApiException as exc:
            raise Inconclusive(
                f"SelfSubjectAccessReview as {self.identity.label} failed: "
                f"{exc.status} {exc.reason}"
            ) from exc
        status = answer.status
        return bool(status.allowed), status.reason or status.evaluation_error or ""

    def check_access(self, verb: str, resource: str, namespace: str | None = None,
                     group: str = "", version: str = "v1") -> AccessResult:
        """Ask (SelfSubjectAccessReview) and try (the real request) one action as this identity.

        Mutating verbs are tried with dryRun=All on an absent object, so nothing changes.
        A 401 or a server error makes the answer Inconclusive.
        """
        if verb not in _VERBS:
            raise ValueError(f"check_access supports {sorted(_VERBS)}, not {verb!r}")
        allowed, reason = self.review(verb, resource, namespace, group)
        collection = api_path(resource, namespace, None, group, version)
        one = api_path(resource, namespace, ABSENT_NAME, group, version)
        dry = [("dryRun", "All")]
        method, path, query, body = {
            "get": ("GET", one, None, None),
            "list": ("GET", collection, [("limit", "1")], None),
            "create": ("POST", collection, dry, {"metadata": {"name": ABSENT_NAME}}),
            "update": ("PUT", one, dry, {"metadata": {"name": ABSENT_NAME}}),
            "patch": ("PATCH", one, dry, {}),
            "delete": ("DELETE", one, dry, None),
        }[verb]
        response = self.request(method, path, query=query, body=body)
        # A server error after an allowing review is the request failing past authorization
        # (e.g. the RBAC escalation check of a dry-run binding with no roleRef): not a denial.
        server_error_unexplained = response.status >= 500 and not allowed
        if response.status in (401, 429) or server_error_unexplained:
            raise Inconclusive(
                f"{response.request} as {self.identity.label} -> {response.status} "
                f"{response.message}: the request could not show authorization"
            )
        return AccessResult(
            identity=self.identity.label, verb=verb, resource=resource, namespace=namespace,
            review_allowed=allowed, review_reason=reason, request=response.request,
            status=response.status, status_message=response.message,
        )


def api_guard(identity_label: str) -> str:
    """The guard of an identity's requests to the API server (canaries and denials)."""
    return f"{identity_label} at the API server"


def assert_denied(evidence: Any, result: AccessResult) -> None:
    """Assert an access check shows a denial, after a canary of the same identity at the API
    server (see api_guard); disagreement between review and request is an error."""
    __tracebackhide__ = True
    if not result.agree:
        evidence.add("access check (disagreement)", str(result))
        raise Inconclusive(f"access review and real request disagree: {result}")
    expect_denied(evidence, f"{result.verb} {result.resource}", denied=result.denied,
                  detail=str(result), guard=api_guard(result.identity))


class WaitTimeout(Inconclusive):
    """A wait reached its deadline; the message names the object, its last status and events."""


class ObjectStuck(Inconclusive):
    """A wait ended early: the object is in a state it will not leave (see pod_stuck)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def object_events(core: client.CoreV1Api, namespace: str, name: str, limit: int = 8) -> list[str]:
    """The latest events about a namespaced object, as 'Reason: message' lines."""
    events = core.list_namespaced_event(
        namespace, field_selector=f"involvedObject.name={name}", _request_timeout=REQUEST_TIMEOUT
    ).items
    events.sort(key=lambda e: e.last_timestamp or e.event_time or e.metadata.creation_timestamp)
    return [f"{e.reason}: {e.message}" for e in events[-limit:]]


def pod_status(pod: client.V1Pod | None) -> str:
    """A one-line summary of a pod's phase and container states."""
    if pod is None or pod.status is None:
        return "never seen"
    parts = [f"phase={pod.status.phase}"]
    for cs in pod.status.container_statuses or []:
        state = cs.state
        if state.waiting:
            parts.append(f"{cs.name}: waiting {state.waiting.reason} {state.waiting.message or ''}")
        elif state.terminated:
            parts.append(f"{cs.name}: exited {state.terminated.exit_code} "
                         f"{state.terminated.reason or ''}")
        elif state.running:
            parts.append(f"{cs.name}: running")
    for cond in pod.status.conditions or []:
        if cond.status != "True" and cond.message:
            parts.append(f"{cond.type}: {cond.message}")
    return "; ".join(p.strip() for p in parts)


# Container waiting reasons that no wait outlives: the image cannot be had, or the container
# cannot be made from the pod's spec. A pod in one of them is stuck, not slow.
STUCK_REASONS = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull",
                 "CreateContainerConfigError", "CreateContainerError")


def pod_stuck(pod: client.V1Pod | None) -> str | None:
    """Why a pod will never start (a container waiting for a STUCK_REASONS reason), or None."""
    if pod is None or pod.status is None:
        return None
    for cs in (pod.status.init_container_statuses or []) + (pod.status.container_statuses or []):
        waiting = cs.state.waiting if cs.state else None
        if waiting is not None and waiting.reason in STUCK_REASONS:
            return f"container {cs.name}: {waiting.reason} {waiting.message or ''}".strip()
    return None


def wait_for(
    list_func: Callable[..., Any],
    namespace: str,
    name: str,
    done: Callable[[Any], bool],
    timeout: float,
    *,
    what: str,
    kind: str = "Pod",
    core: client.CoreV1Api | None = None,
    status: Callable[[Any], str] = pod_status,
    stuck: Callable[[Any], str | None] = lambda obj: None,
) -> Any:
    """Watch one namespaced object until done(obj) holds, or raise WaitTimeout at the deadline.

    list_func is the namespaced list call (e.g. core.list_namespaced_pod); the timeout message
    names the object, the condition, its last status and the events seen (core given). When
    stuck(obj) gives a reason (see pod_stuck) the wait ends at once with ObjectStuck.
    """
    deadline = time.monotonic() + timeout
    last = None
    watcher = watch.Watch()
    while (remaining := deadline - time.monotonic()) > 0:
        stream = watcher.stream(
            list_func, namespace, field_selector=f"metadata.name={name}",
            timeout_seconds=max(1, int(remaining)), _request_timeout=(5, remaining + 5),
        )
        for event in stream:
            last = event["object"]
            if event["type"] == "DELETED":
                watcher.stop()
                raise Inconclusive(f"{kind} {namespace}/{name} was deleted while waiting for "
                                   f"{what}")
            if done(last):
                watcher.stop()
                return last
            if (reason := stuck(last)) is not None:
                watcher.stop()
                raise ObjectStuck(f"{kind} {namespace}/{name} is stuck (never {what}): {reason}",
                                  reason)
    events = object_events(core, namespace, name) if core is not None else []
    raise WaitTimeout(
        f"{kind} {namespace}/{name}: not {what} after {timeout:g}s; last status: {status(last)}; "
        f"events: {' | '.join(events) or 'none'}"
    )
