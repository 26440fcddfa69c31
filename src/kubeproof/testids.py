"""Test-id patterns in which only `*` is a wildcard (brackets are literal, so `test_x[get]`
names that one parametrization), shared by the CIS coverage table and the mutants."""

from __future__ import annotations

import re


def matches(pattern: str, nodeid: str) -> bool:
    """Whether a test id matches a pattern."""
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, nodeid) is not None
