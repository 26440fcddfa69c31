"""Test-id patterns in which only `*` is a wildcard (brackets are literal, so `test_x[get]`
names that one parametrization), shared by the CIS coverage table and the mutants."""

from __future__ import annotations

import re
from functools import cache


@cache
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")))


def matches(pattern: str, nodeid: str) -> bool:
    """Whether a test id matches a pattern."""
    return _regex(pattern).fullmatch(nodeid) is not None
