"""The ignore prefilter (fog.sync.ignore._any_of): one regex that matches exactly where one of the rules' does."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from fog.sync.ignore import DEFAULT_RULES, _any_of, _Rules, translate

LINES = [
    *DEFAULT_RULES, "*.log", "!keep.log", "build/", "/top-only.txt", "**/cache/", "a/**/b", "doc/*.md", "x?y",
    "*/", "a/**", "**/b/**/cache", "**/x/y", "**/a/**",
]  # fmt: skip
NAMES = ["a", "b", "build", "cache", "doc", "keep.log", "x.log", "n~", ".#n", "#n#", "xzy", "r.md", ".DS_Store"]


def regexes(lines: list[str]) -> list[str]:
    return [rule[1] for rule in map(translate, lines) if rule is not None]


@settings(max_examples=300)
@given(
    st.lists(st.sampled_from(LINES), min_size=1, max_size=6), st.lists(st.sampled_from(NAMES), min_size=1, max_size=4)
)
def test_the_shared_start_matches_where_one_pattern_does(lines: list[str], parts: list[str]) -> None:
    each = regexes(lines)
    joined = _any_of(each)
    path = "/".join(parts)
    expected = any(re.match(r, path, re.DOTALL) for r in each)
    assert (joined is not None and joined.match(path) is not None) == expected


def test_the_defaults_share_one_start() -> None:
    rules = _Rules("", list(DEFAULT_RULES))
    for joined in (rules.any_file, rules.any_dir):
        assert joined is not None and joined.pattern.startswith("^(?:[^/]*/)*+(?:")
        assert joined.pattern.count("^(?:[^/]*/)*+") == 1  # (each of the 7 patterns had its own)
    assert _any_of([]) is None
