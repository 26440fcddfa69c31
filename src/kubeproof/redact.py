"""Redaction: removes tokens, keys, certificate data and credentials from report text."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MASK = "<redacted>"

# Words that make a key, flag or variable name a secret's (`--oidc-client-secret`, `PASSWORD`).
_SECRET_WORD = (r"token|password|passwd|secret|api[-_]?key|access[-_]?key|private[-_]?key|"
                r"client[-_]key|key[-_]data|certificate[-_]data|authority[-_]data|credential")
# Mapping keys whose values are secrets whatever they look like.
_SECRET_KEY = re.compile(rf"({_SECRET_WORD}|authorization)", re.IGNORECASE)
# ...unless the name says the value is where the secret is kept, or what kind it is.
_PATH_KEY = re.compile(r"(file|path|dir|name|config|mode)$", re.IGNORECASE)
# A flag (one or two dashes) that names a secret, as one argv word: `--token`, `-password`.
_SECRET_FLAG = re.compile(rf"(?i)^--?[\w.-]*(?:{_SECRET_WORD})(?![\w.-]*(?:file|path|dir|config))"
                          rf"[\w.-]*$")
# Values that say how something is set, not a secret (`--enable-bootstrap-token-auth=true`).
_PLAIN = r"(?:true|false)\b"
# A value: quoted (the quotes are kept around the mask) or one word.
_VALUE = r"(?:(\")[^\"\n]*\"|(')[^'\n]*'|[^\s'\",}]+)"


def _keep_quotes(match: re.Match[str]) -> str:
    quote = match.group(2) or match.group(3) or ""
    return f"{match.group(1)}{quote}{MASK}{quote}"



_PATTERNS: tuple[tuple[re.Pattern[str], Any], ...] = (
    # PEM blocks: certificates, private keys, CSRs.
    (re.compile(r"-----BEGIN [A-Z0-9 ]+-----.*?(-----END [A-Z0-9 ]+-----|\Z)", re.S), MASK),
    # Authorization headers and bearer/basic credentials.
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9\-._~+/]+=*"), r"\1 " + MASK),
    (re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)[^'\",}\n]+"), r"\1" + MASK),
    # JSON web tokens (service account and OIDC tokens, signed or not) and bare base64 JSON.
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}(?:\.[A-Za-z0-9_-]*)?"), MASK),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{20,}=*"), MASK),
    # Bootstrap tokens: abcdef.0123456789abcdef.
    (re.compile(r"\b[a-z0-9]{6}\.[a-z0-9]{16}\b"), MASK),
    # Passwords in URLs: scheme://user:password@host.
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@'\"]+:)[^/\s@'\"]+@"), r"\1" + MASK + "@"),
    # key: value pairs in YAML/JSON/flags/env whose key names a secret (not a file path flag).
    (
        re.compile(
            rf"(?i)([\"']?[\w.-]*(?:{_SECRET_WORD})(?![\w.-]*(?:file|path|dir|config))[\w.-]*"
            rf"[\"']?\s*[:=]\s*)(?![\s'\"]*<redacted>)(?!{_PLAIN}|`){_VALUE}"
        ),
        _keep_quotes,
    ),
    # The same as a flag and its value in two words: `--token abc`, `--db-password hunter2`.
    (
        re.compile(
            rf"(?i)((?<![\w-])--?[\w.-]*(?:{_SECRET_WORD})(?![\w.-]*(?:file|path|dir|config))"
            rf"[\w.-]*\s+)(?![-<])(?!{_PLAIN}|`){_VALUE}"
        ),
        _keep_quotes,
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


def _redact_mapping(value: Mapping) -> dict:
    masked = {k: (MASK if _is_secret_key(k) and v else redact(v)) for k, v in value.items()}
    # An environment variable as Kubernetes lists it: {name: DB_PASSWORD, value: ...}.
    name = value.get("name")
    if isinstance(name, str) and _is_secret_key(name) and value.get("value"):
        masked["value"] = MASK
    return masked


def _redact_sequence(values: Any) -> list:
    """A command line (or any list) with the word after a secret flag masked too."""
    out: list = []
    secret_next = False
    for item in values:
        if secret_next and isinstance(item, str) and not item.startswith("-"):
            out.append(MASK)
        else:
            out.append(redact(item))
        secret_next = isinstance(item, str) and bool(_SECRET_FLAG.match(item))
    return out


def redact(value: Any) -> Any:
    """A copy of a value (text, bytes, mapping, sequence) with credentials masked."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, bytes):
        return redact_text(value.decode("utf-8", "replace"))
    if isinstance(value, Mapping):
        return _redact_mapping(value)
    if isinstance(value, (list, tuple)):
        return _redact_sequence(value)
    if isinstance(value, (set, frozenset)):
        return [redact(v) for v in value]
    if value is None or isinstance(value, (int, float, bool)):
        return value
    return redact_text(str(value))
