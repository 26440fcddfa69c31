"""Redaction: removes tokens, keys, certificate data and credentials from report text."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MASK = "<redacted>"

# Mapping keys whose values are secrets whatever they look like.
_SECRET_KEY = re.compile(
    r"(token|password|passwd|secret|authorization|api[-_]?key|private[-_]?key|authority[-_]data|"
    r"client[-_]key|key[-_]data|certificate[-_]data|cert[-_]data|credential)",
    re.IGNORECASE,
)
_PATH_KEY = re.compile(r"(file|path|dir|name)$", re.IGNORECASE)

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # PEM blocks: certificates, private keys, CSRs.
    (re.compile(r"-----BEGIN [A-Z0-9 ]+-----.*?(-----END [A-Z0-9 ]+-----|\Z)", re.S), MASK),
    # Authorization headers and bearer/basic credentials.
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9\-._~+/]+=*"), r"\1 " + MASK),
    (re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)[^'\",}\n]+"), r"\1" + MASK),
    # JSON web tokens (service account tokens).
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), MASK),
    # Bootstrap tokens: abcdef.0123456789abcdef.
    (re.compile(r"\b[a-z0-9]{6}\.[a-z0-9]{16}\b"), MASK),
    # key: value pairs in YAML/JSON/flags whose key names a secret (not a file path flag).
    (
        re.compile(
            r"(?i)([\"']?[\w.-]*(?:token|password|secret|key-data|certificate-data|authority-data|"
            r"client-key|private-key)(?![\w.-]*(?:file|path|dir))[\w.-]*[\"']?\s*[:=]\s*)"
            r"(?![\s'\"]*<redacted>)(['\"]?)[^\s'\",}]+\2"
        ),
        r"\1" + MASK,
    ),
)


def _is_secret_key(key: object) -> bool:
    """Whether a mapping key names a secret value (``token``, not ``tokenFile``)."""
    return isinstance(key, str) and bool(_SECRET_KEY.search(key)) and not _PATH_KEY.search(key)


def redact_text(text: str) -> str:
    """The text with every credential-looking substring replaced by ``<redacted>``."""
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text


def redact(value: Any) -> Any:
    """A copy of a value (text, bytes, mapping, sequence) with credentials masked."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, bytes):
        return redact_text(value.decode("utf-8", "replace"))
    if isinstance(value, Mapping):
        return {k: (MASK if _is_secret_key(k) and v else redact(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [redact(v) for v in value]
    if value is None or isinstance(value, (int, float, bool)):
        return value
    return redact_text(str(value))
